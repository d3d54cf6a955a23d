"""small_cnn in Triton: the program's layers through the Triton kernels of the other ops, the
implicit-GEMM conv with its activation fused, max pools, the linear matmul with its epilogue.
A k x k average pool runs through ATen (no Triton average-pool kernel). On a GPU a small CNN's
cost is its launches, which CUDA graphs (cnnfast.optimize(..., cuda_graphs=True)) remove for the
whole model; this version exists so that every op has a Triton path."""

from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from cnnfast.contracts.activations import ACTIVATIONS
from cnnfast.contracts.small_cnn_program import CONV, FIELDS, layer, output_shape
from cnnfast.triton.conv2d_bias_act import conv2d_bias_act
from cnnfast.triton.linear_bias_act import linear_bias_act
from cnnfast.triton.max_pool2d import max_pool2d


def small_cnn(x: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[Optional[torch.Tensor]],
              program: Sequence[int]) -> torch.Tensor:
    """Like torch.ops.cnnfast.small_cnn (a None or empty bias means none)."""
    if x.dim() != 4 or len(program) != FIELDS * len(weights) or len(biases) != len(weights):
        raise ValueError("cnnfast.small_cnn (Triton): x must be 4-D, with 6 program ints, one weight and one "
                         "bias per layer")
    y = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        b = b if b is not None and b.numel() > 0 else None
        kind, a, p, act, pool, size = layer(program, i)
        if kind == CONV:
            y = conv2d_bias_act(y, w, b, (a, a), (p, p), (1, 1), 1, None, ACTIVATIONS[act], conv="triton")
            if pool == 1:
                y = F.avg_pool2d(y, size)
            elif pool == 2:
                y = max_pool2d(y, [size, size], [size, size], [0, 0], False)
        else:
            y = linear_bias_act(y.flatten(1).contiguous(), w, b, ACTIVATIONS[a])
    assert tuple(y.shape) == output_shape(x.shape, weights, program)
    return y.contiguous()
