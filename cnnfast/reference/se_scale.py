"""se_scale in plain PyTorch: the oracle for tests, the unfused multiply, add and activation."""

from typing import Optional

import torch

from cnnfast.contracts.activations import apply_activation


def se_scale(x: torch.Tensor, gate: torch.Tensor, residual: Optional[torch.Tensor] = None,
             act: str = "none") -> torch.Tensor:
    y = x * gate.reshape(x.shape[0], x.shape[1], 1, 1)
    if residual is not None:
        y = y + residual
    return apply_activation(y, act)
