"""cnnfast.ops.max_pool2d_out: max_pool2d written into a tensor the caller provides.

`out` may have any strides; the use it exists for is a channel slice of a concat buffer, where a
max pool is one part of the cat (Inception-v3's grid reductions, DenseNet's first features), so
that no torch.cat copies it there afterwards. Schema and kernels: csrc/ops/max_pool2d_out (CPU: a
channels_last input pooled straight into the slice; elsewhere pooled and copied in).
"""

from typing import Optional

import torch

from cnnfast.contracts.geometry import IntPair, pair
from cnnfast.ops.max_pool2d import _max_pool2d_fake


def max_pool2d_out(x: torch.Tensor, kernel_size: IntPair, stride: Optional[IntPair] = None, padding: IntPair = 0,
                   ceil_mode: bool = False, *, out: torch.Tensor) -> torch.Tensor:
    """``out[...] = max_pool2d(x, kernel_size, stride, padding, ceil_mode)``; returns out.

    out must have the pool's output shape, x's dtype and device, and must not share memory with x.
    Arguments otherwise as cnnfast.ops.max_pool2d."""
    kernel = pair(kernel_size, "kernel_size")
    stride = kernel if stride is None or stride == [] else pair(stride, "stride")
    torch.ops.cnnfast.max_pool2d_out(x, kernel, stride, pair(padding, "padding"), bool(ceil_mode), out)
    return out


@torch.library.register_fake("cnnfast::max_pool2d_out")
def _max_pool2d_out_fake(x, kernel, stride, padding, ceil_mode, out):
    expected = _max_pool2d_fake(x, kernel, stride, padding, ceil_mode).shape
    torch._check(tuple(out.shape) == tuple(expected),
                 lambda: f"cnnfast.max_pool2d_out: out has shape {tuple(out.shape)}, expected {tuple(expected)}")
    torch._check(out.dtype == x.dtype, lambda: "cnnfast.max_pool2d_out: out dtype differs from x dtype")
