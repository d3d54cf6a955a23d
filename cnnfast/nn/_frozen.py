"""How the fused modules hold their tensors: frozen, contiguous parameters (None allowed)."""

from typing import Optional

import torch
import torch.nn as nn


def register_frozen(module: nn.Module, name: str, t: Optional[torch.Tensor]) -> None:
    """module.<name> = t as a contiguous parameter that does not require grad, or None; registered
    either way, so TorchScript sees an Optional[Tensor] attribute."""
    param = nn.Parameter(t.detach().contiguous(), requires_grad=False) if t is not None else None
    module.register_parameter(name, param)
