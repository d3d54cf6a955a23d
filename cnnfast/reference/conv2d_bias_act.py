"""conv2d_bias_act in plain PyTorch: the oracle for tests, computed the unfused way."""

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from cnnfast.contracts.activations import apply_activation


def conv2d_bias_act(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    stride: Sequence[int] = (1, 1),
    padding: Sequence[int] = (0, 0),
    dilation: Sequence[int] = (1, 1),
    groups: int = 1,
    residual: Optional[torch.Tensor] = None,
    act: str = "none",
) -> torch.Tensor:
    y = F.conv2d(x, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups)
    if residual is not None:
        y = y + residual
    return apply_activation(y, act)
