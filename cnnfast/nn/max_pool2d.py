"""The call optimize() puts in place of nn.MaxPool2d / F.max_pool2d (see passes/use_max_pool2d.py)."""

from typing import List, Optional

import torch

from cnnfast.config import DEFAULT_GPU_BACKEND
from cnnfast.nn._gpu_backend import cuda_backend


def max_pool2d(x: torch.Tensor, kernel: List[int], stride: List[int], padding: List[int],
               ceil_mode: bool, gpu_backend: str = DEFAULT_GPU_BACKEND,
               out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """cnnfast.ops.max_pool2d, also for an unbatched (C, H, W) input as nn.MaxPool2d accepts; on
    CUDA tensors through Triton when the GPU backend in force (the model's `gpu_backend`, or a
    `with cnnfast.config.gpu_backend(...)` block) is "triton". With `out` (a concat buffer's
    channel slice, see passes/fuse_concat.py): written there by max_pool2d_out, which is returned."""
    unbatched = x.dim() == 3
    if unbatched:
        x = x.unsqueeze(0)
    # is_scripting() stays inline so TorchScript drops the Triton branch.
    if not torch.jit.is_scripting() and cuda_backend(gpu_backend, x) == "triton":
        y = _triton_max_pool2d(x, kernel, stride, padding, ceil_mode)
        if out is not None:  # the concat pass's slice (batched maps only)
            out.copy_(y)
            return out
    elif out is not None:
        torch.ops.cnnfast.max_pool2d_out(x, kernel, stride, padding, ceil_mode, out)
        return out
    else:
        y = torch.ops.cnnfast.max_pool2d(x, kernel, stride, padding, ceil_mode)
    return y.squeeze(0) if unbatched else y


@torch.jit.unused
def _triton_max_pool2d(x: torch.Tensor, kernel: List[int], stride: List[int], padding: List[int],
                       ceil_mode: bool) -> torch.Tensor:
    from cnnfast.triton.max_pool2d import max_pool2d as triton_max_pool2d

    return triton_max_pool2d(x, kernel, stride, padding, ceil_mode)
