"""preact_conv1x1 in plain PyTorch: the oracle for tests, computed the unfused way."""

from typing import Optional

import torch
import torch.nn.functional as F

from cnnfast.contracts.activations import apply_activation


def preact_conv1x1(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None, act: str = "none", pool: int = 1) -> torch.Tensor:
    # The op's definition: the pool on the activated input, then the conv and its activation.
    # With act "none" this equals conv -> pool (a DenseNet transition's order): both are linear.
    a = torch.relu(x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1))
    if pool > 1:
        a = F.avg_pool2d(a, pool)
    return apply_activation(F.conv2d(a, weight, bias), act)
