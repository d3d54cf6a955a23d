"""to_channels_last in plain PyTorch: the oracle for tests."""

import torch


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.clone(memory_format=torch.channels_last)
