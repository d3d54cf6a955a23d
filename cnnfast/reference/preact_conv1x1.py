"""preact_conv1x1 in plain PyTorch: the oracle for tests, computed the unfused way."""

from typing import Optional

import torch
import torch.nn.functional as F

from cnnfast.ops._activations import apply_activation


def preact_conv1x1(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None, act: str = "none", pool: int = 1) -> torch.Tensor:
    # In the order the modules it replaces run: BN, ReLU, conv, then the pool (after the conv).
    a = torch.relu(x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1))
    y = apply_activation(F.conv2d(a, weight, bias), act)
    return F.avg_pool2d(y, pool) if pool > 1 else y
