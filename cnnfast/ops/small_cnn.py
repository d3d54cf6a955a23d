"""cnnfast.ops.small_cnn: a whole small CNN (convs with activation and pooling, then linear layers)
in one call.

LeNet-5's layers each take about a microsecond of arithmetic, while every framework op costs
several microseconds of dispatch and allocation, so layer by layer the framework is most of the
time. One call runs the whole network per image with no op, allocation or dispatch in between.
Schema and kernels: csrc/ops/small_cnn; Triton version: cnnfast/triton/small_cnn.py.
"""

from typing import List, Optional, Sequence, Tuple

import torch

from cnnfast.ops._activations import ACTIVATIONS, check_activation
from cnnfast.ops._backend import check_backend, use_triton

FIELDS = 6  # ints per layer in the program
POOLS = ("none", "avg", "max")


def conv_layer(stride: int = 1, padding: int = 0, act: str = "none", pool: str = "none", pool_size: int = 2) -> List[int]:
    """Program entry for ``pool(act(conv2d(x, w, b, stride, padding)))``; the pool is pool_size x
    pool_size with stride pool_size, no padding, floor mode ("avg" or "max")."""
    check_activation(act)
    if pool not in POOLS:
        raise ValueError(f"cnnfast.small_cnn: pool must be one of {', '.join(POOLS)}; got {pool!r}")
    return [0, int(stride), int(padding), ACTIVATIONS.index(act), POOLS.index(pool), int(pool_size) if pool != "none" else 0]


def linear_layer(act: str = "none") -> List[int]:
    """Program entry for ``act(x @ w.T + b)``; the first one flattens the (C, H, W) map as nn.Flatten."""
    check_activation(act)
    return [1, ACTIVATIONS.index(act), 0, 0, 0, 0]


def small_cnn(x: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[Optional[torch.Tensor]],
              program: Sequence[int], *, backend: str = "auto") -> torch.Tensor:
    """Runs the layers of `program` (conv_layer(...) + ... + linear_layer(...) entries, conv layers
    first) on x (N, C, H, W), one weight (conv (O, I, KH, KW), linear (O, K)) and one bias or None
    per layer. Returns (N, O) after linear layers, (N, O, H', W') if the last layer is a conv.
    (The op itself takes an empty tensor for a missing bias: Tensor?[] cannot be traced.)
    backend: "auto" (the C++/CUDA kernels) or "triton" (cnnfast/triton/small_cnn.py)."""
    check_backend(backend)
    if use_triton(backend):
        from cnnfast.triton.small_cnn import small_cnn as triton_small_cnn

        return triton_small_cnn(x, weights, biases, program)
    biases = [b if b is not None else x.new_empty(0) for b in biases]
    return torch.ops.cnnfast.small_cnn(x, list(weights), biases, [int(v) for v in program])


def output_shape(x_shape: Sequence[int], weights: Sequence, program: Sequence[int]) -> Tuple[int, ...]:
    """The result's shape (mirrors check_small_cnn in csrc/ops/small_cnn/small_cnn.cpp)."""
    n, c, h, w = x_shape
    flat = False
    for i, wt in enumerate(weights):
        kind, a, b, _, pool, size = program[i * FIELDS:(i + 1) * FIELDS]
        if kind == 0:
            h = (h + 2 * b - wt.shape[2]) // a + 1
            w = (w + 2 * b - wt.shape[3]) // a + 1
            if pool:
                h, w = h // size, w // size
            c = wt.shape[0]
        else:
            c, flat = wt.shape[0], True
    return (n, c) if flat else (n, c, h, w)


@torch.library.register_fake("cnnfast::small_cnn")
def _small_cnn_fake(x, weights, biases, program):
    torch._check(x.dim() == 4, lambda: f"cnnfast.small_cnn: x must be 4-D, got {x.dim()}-D")
    torch._check(len(program) == FIELDS * len(weights) == FIELDS * len(biases),
                 lambda: "cnnfast.small_cnn: program must have 6 ints per layer, one weight and bias each")
    return x.new_empty(output_shape(x.shape, weights, program))
