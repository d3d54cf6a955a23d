"""cnnfast.ops.small_cnn: a whole small CNN (convs with activation and pooling, then linear layers)
in one call.

LeNet-5's layers each take about a microsecond of arithmetic, while every framework op costs
several microseconds of dispatch and allocation, so layer by layer the framework is most of the
time. One call runs the whole network per image with no op, allocation or dispatch in between.
Schema and kernels: csrc/ops/small_cnn; Triton version: cnnfast/triton/small_cnn.py.
"""

from typing import Optional, Sequence

import torch

from cnnfast.contracts.small_cnn_program import FIELDS, conv_layer, linear_layer, output_shape
from cnnfast.ops._backend import check_backend, use_triton

__all__ = ["small_cnn", "conv_layer", "linear_layer"]  # the program builders live in contracts

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


@torch.library.register_fake("cnnfast::small_cnn")
def _small_cnn_fake(x, weights, biases, program):
    torch._check(x.dim() == 4, lambda: f"cnnfast.small_cnn: x must be 4-D, got {x.dim()}-D")
    torch._check(len(program) == FIELDS * len(weights) == FIELDS * len(biases),
                 lambda: "cnnfast.small_cnn: program must have 6 ints per layer, one weight and bias each")
    return x.new_empty(output_shape(x.shape, weights, program))
