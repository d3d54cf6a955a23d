"""max_pool2d_out in plain PyTorch: the pool, copied into out."""

import torch

from cnnfast.reference.max_pool2d import max_pool2d


def max_pool2d_out(x: torch.Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False, *,
                   out: torch.Tensor) -> torch.Tensor:
    out.copy_(max_pool2d(x, kernel_size, stride, padding, ceil_mode))
    return out
