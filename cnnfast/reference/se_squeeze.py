"""se_squeeze in plain PyTorch: the oracle for tests."""

import torch


def se_squeeze(x: torch.Tensor) -> torch.Tensor:
    return x.mean((2, 3))
