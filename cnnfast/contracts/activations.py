"""The activations cnnfast ops fuse, by the names the C++ schema takes (csrc/cnnfast/activation.h)."""

import torch
import torch.nn.functional as F

ACTIVATIONS = ("none", "relu", "relu6", "silu", "sigmoid", "hardswish", "hardsigmoid", "tanh")


def check_activation(act: str) -> None:
    if act not in ACTIVATIONS:
        raise ValueError(f"cnnfast: act must be one of {', '.join(ACTIVATIONS)}; got {act!r}")


def apply_activation(x: torch.Tensor, act: str) -> torch.Tensor:
    """The plain PyTorch definition of each activation: the oracle the kernels are tested against."""
    if act == "none":
        return x
    if act == "relu":
        return F.relu(x)
    if act == "relu6":
        return F.relu6(x)
    if act == "silu":
        return F.silu(x)
    if act == "sigmoid":
        return torch.sigmoid(x)
    if act == "hardswish":
        return F.hardswish(x)
    if act == "hardsigmoid":
        return F.hardsigmoid(x)
    if act == "tanh":
        return torch.tanh(x)
    raise ValueError(f"cnnfast: unknown activation {act!r}")
