"""conv1x1_depthwise_mean in plain PyTorch: the oracle for tests, computed the unfused way."""

from typing import Optional, Tuple

import torch

from cnnfast.reference.conv1x1_depthwise import conv1x1_depthwise


def conv1x1_depthwise_mean(x: torch.Tensor, weight1: torch.Tensor, bias1: Optional[torch.Tensor], act1: str,
                           weight2: torch.Tensor, bias2: Optional[torch.Tensor] = None, stride=1, padding=0,
                           dilation=1, act2: str = "none") -> Tuple[torch.Tensor, torch.Tensor]:
    y = conv1x1_depthwise(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2)
    return y, y.mean((2, 3))
