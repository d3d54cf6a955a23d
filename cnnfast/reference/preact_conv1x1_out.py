"""preact_conv1x1_out in plain PyTorch: the unfused preact_conv1x1, copied into out."""

from typing import Optional

import torch

from cnnfast.reference.preact_conv1x1 import preact_conv1x1


def preact_conv1x1_out(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, weight: torch.Tensor,
                       bias: Optional[torch.Tensor] = None, act: str = "none", pool: int = 1, *,
                       out: torch.Tensor) -> torch.Tensor:
    out.copy_(preact_conv1x1(x, scale, shift, weight, bias, act, pool))
    return out
