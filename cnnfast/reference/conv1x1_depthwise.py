"""conv1x1_depthwise in plain PyTorch: the oracle for tests, computed the unfused way."""

from typing import Optional

import torch
import torch.nn.functional as F

from cnnfast.contracts.activations import apply_activation


def conv1x1_depthwise(x: torch.Tensor, weight1: torch.Tensor, bias1: Optional[torch.Tensor], act1: str,
                      weight2: torch.Tensor, bias2: Optional[torch.Tensor] = None, stride=1, padding=0,
                      dilation=1, act2: str = "none") -> torch.Tensor:
    mid = apply_activation(F.conv2d(x, weight1, bias1), act1)
    return apply_activation(F.conv2d(mid, weight2, bias2, stride, padding, dilation, groups=weight2.shape[0]), act2)
