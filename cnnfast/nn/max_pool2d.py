"""The call optimize() puts in place of nn.MaxPool2d / F.max_pool2d (see passes/use_max_pool2d.py)."""

from typing import List

import torch


def max_pool2d(x: torch.Tensor, kernel: List[int], stride: List[int], padding: List[int],
               ceil_mode: bool) -> torch.Tensor:
    """cnnfast.ops.max_pool2d, also for an unbatched (C, H, W) input as nn.MaxPool2d accepts."""
    if x.dim() == 3:
        return torch.ops.cnnfast.max_pool2d(x.unsqueeze(0), kernel, stride, padding, ceil_mode).squeeze(0)
    return torch.ops.cnnfast.max_pool2d(x, kernel, stride, padding, ceil_mode)
