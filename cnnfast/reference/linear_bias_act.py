"""linear_bias_act in plain PyTorch: the oracle for tests."""

from typing import Optional

import torch
import torch.nn.functional as F

from cnnfast.contracts.activations import apply_activation


def linear_bias_act(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                    act: str = "none") -> torch.Tensor:
    return apply_activation(F.linear(x, weight, bias), act)
