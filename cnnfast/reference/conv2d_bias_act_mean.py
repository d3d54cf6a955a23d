"""conv2d_bias_act_mean in plain PyTorch: the oracle for tests, computed the unfused way."""

from typing import Optional, Tuple

import torch

from cnnfast.reference.conv2d_bias_act import conv2d_bias_act


def conv2d_bias_act_mean(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, stride=1,
                         padding=0, dilation=1, groups: int = 1, residual: Optional[torch.Tensor] = None,
                         act: str = "none") -> Tuple[torch.Tensor, torch.Tensor]:
    y = conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual, act)
    return y, y.mean((2, 3))
