"""cnnfast.ops.max_pool2d: max pooling without the argmax indices (dilation 1).

ATen's CPU max_pool2d computes the indices whether or not anyone asks for them; the channels_last
kernel in csrc/ops/max_pool2d takes a vector max over whole rows of channels per window tap.
Triton version: cnnfast/triton/max_pool2d.py.
"""

from typing import Optional

import torch

from cnnfast.contracts.geometry import IntPair, pair, pool_output_size
from cnnfast.contracts.layout import elementwise_memory_format
from cnnfast.ops._backend import check_backend, use_triton


def max_pool2d(x: torch.Tensor, kernel_size: IntPair, stride: Optional[IntPair] = None, padding: IntPair = 0,
               ceil_mode: bool = False, *, backend: str = "auto") -> torch.Tensor:
    """torch.nn.functional.max_pool2d(x, kernel_size, stride, padding, dilation=1, ceil_mode); x is
    (N, C, H, W) in either layout, and the result keeps it. NaN in a window gives NaN, as in eager.
    backend: "auto" (the C++/CUDA kernel) or "triton" (cnnfast/triton/max_pool2d.py; no float64)."""
    check_backend(backend)
    kernel = pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else pair(stride, "stride")
    if use_triton(backend):
        from cnnfast.triton.max_pool2d import max_pool2d as triton_max_pool2d

        return triton_max_pool2d(x, kernel, stride, pair(padding, "padding"), bool(ceil_mode))
    return torch.ops.cnnfast.max_pool2d(x, kernel, stride, pair(padding, "padding"), bool(ceil_mode))


@torch.library.register_fake("cnnfast::max_pool2d")
def _max_pool2d_fake(x, kernel, stride, padding, ceil_mode):
    torch._check(x.dim() == 4, lambda: f"cnnfast.max_pool2d: x must be 4-D, got {x.dim()}-D")
    h, w = (pool_output_size(x.shape[2 + d], kernel[d], stride[d], padding[d], ceil_mode) for d in range(2))
    return torch.empty((x.shape[0], x.shape[1], h, w), dtype=x.dtype, device=x.device,
                       memory_format=elementwise_memory_format(x))
