"""small_cnn in plain PyTorch: the oracle for tests, layer by layer as the program says."""

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from cnnfast.contracts.activations import ACTIVATIONS, apply_activation
from cnnfast.contracts.small_cnn_program import CONV, layer


def small_cnn(x: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[Optional[torch.Tensor]],
              program: Sequence[int]) -> torch.Tensor:
    y = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        b = b if b is not None and b.numel() > 0 else None  # the op's "no bias": None or empty
        kind, a, p, act, pool, size = layer(program, i)
        if kind == CONV:
            y = apply_activation(F.conv2d(y, w, b, a, p), ACTIVATIONS[act])
            if pool == 1:
                y = F.avg_pool2d(y, size)
            elif pool == 2:
                y = F.max_pool2d(y, size)
        else:
            y = apply_activation(F.linear(y.flatten(1), w, b), ACTIVATIONS[a])
    return y
