"""se_excite in plain PyTorch: the oracle for tests, two F.linear layers and their activations."""

from typing import Optional

import torch
import torch.nn.functional as F

from cnnfast.contracts.activations import apply_activation


def se_excite(s: torch.Tensor, w1: torch.Tensor, b1: Optional[torch.Tensor], w2: torch.Tensor,
              b2: Optional[torch.Tensor], act1: str = "relu", act2: str = "sigmoid") -> torch.Tensor:
    return apply_activation(F.linear(apply_activation(F.linear(s, w1, b1), act1), w2, b2), act2)
