"""The program small_cnn runs: FIELDS ints per layer (csrc/ops/small_cnn/small_cnn.h, kSmallCnnFields).

conv:   [0, stride, padding, activation index, pool index, pool size]
linear: [1, activation index, 0, 0, 0, 0]
"""

from typing import List, Sequence, Tuple

from cnnfast.contracts.activations import ACTIVATIONS, check_activation
from cnnfast.contracts.geometry import conv_output_size

FIELDS = 6  # ints per layer in the program
CONV, LINEAR = 0, 1  # the first field: the layer's kind
POOLS = ("none", "avg", "max")


def conv_layer(stride: int = 1, padding: int = 0, act: str = "none", pool: str = "none",
               pool_size: int = 2) -> List[int]:
    """Program entry for ``pool(act(conv2d(x, w, b, stride, padding)))``; the pool is pool_size x
    pool_size with stride pool_size, no padding, floor mode ("avg" or "max")."""
    check_activation(act)
    if pool not in POOLS:
        raise ValueError(f"cnnfast.small_cnn: pool must be one of {', '.join(POOLS)}; got {pool!r}")
    size = int(pool_size) if pool != "none" else 0
    return [CONV, int(stride), int(padding), ACTIVATIONS.index(act), POOLS.index(pool), size]


def linear_layer(act: str = "none") -> List[int]:
    """Program entry for ``act(x @ w.T + b)``; the first one flattens the (C, H, W) map as nn.Flatten."""
    check_activation(act)
    return [LINEAR, ACTIVATIONS.index(act), 0, 0, 0, 0]


def layer(program: Sequence[int], i: int) -> Sequence[int]:
    """The FIELDS ints of layer i."""
    return program[i * FIELDS:(i + 1) * FIELDS]


def output_shape(x_shape: Sequence[int], weights: Sequence, program: Sequence[int]) -> Tuple[int, ...]:
    """The result's shape (mirrors check_small_cnn in csrc/ops/small_cnn/small_cnn.cpp)."""
    n, c, h, w = x_shape
    flat = False
    for i, wt in enumerate(weights):
        kind, stride, padding, _, pool, size = layer(program, i)
        if kind == CONV:
            h = conv_output_size(h, wt.shape[2], stride, padding)
            w = conv_output_size(w, wt.shape[3], stride, padding)
            if pool:
                h, w = h // size, w // size
            c = wt.shape[0]
        else:
            c, flat = wt.shape[0], True
    return (n, c) if flat else (n, c, h, w)
