"""cnnfast.ops.preact_conv1x1: BatchNorm -> ReLU (-> 2x2 average pool) -> 1x1 conv (+ bias, activation)
in one op.

The pre-activation bottleneck of a DenseNet layer (and of pre-activation ResNets): the BN cannot
be folded into the conv because the ReLU sits between them. The CPU kernel applies the BN + ReLU
to a block of pixels at a time and convolves it while it is in cache, reading x (which may be a
channel slice of a dense block's buffer) once and never materialising the activated map. With
pool=2 (a DenseNet transition: conv then 2x2 average pool, no activation between) the pool runs
first, on the activated input: both are linear, so the result is the same and the conv does a
quarter of the work.
Schema and kernels: csrc/ops/preact_conv1x1; Triton version: cnnfast/triton/preact_conv1x1.py.
"""

from typing import Optional

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.contracts.layout import preact_memory_format
from cnnfast.ops._backend import check_backend, use_triton


def preact_conv1x1(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None, act: str = "none", pool: int = 1, *,
                   backend: str = "auto") -> torch.Tensor:
    """``act(conv2d(avg_pool2d(relu(x * scale[c] + shift[c]), pool), weight) + bias)``.

    x: (N, C, H, W), NCHW, channels_last or a channel slice of a channels_last tensor;
    scale, shift: (C,) (an eval BatchNorm: scale = gamma / sqrt(var + eps), shift = beta - mean *
    scale); weight: (C_out, C, 1, 1); bias: (C_out,) or None; pool: 1 (none) or 2 (2x2, stride 2).
    Returns (N, C_out, H // pool, W // pool), channels_last when x has its channels innermost (see
    cnnfast.contracts.layout.preact_memory_format). Inference only. backend: "auto" (the C++/CUDA kernels) or "triton"
    (cnnfast/triton/preact_conv1x1.py: the prologue applied to each tile as it is loaded).
    """
    check_activation(act)
    check_backend(backend)
    if use_triton(backend):
        from cnnfast.triton.preact_conv1x1 import preact_conv1x1 as triton_preact_conv1x1

        return triton_preact_conv1x1(x, scale, shift, weight, bias, act, pool)
    return torch.ops.cnnfast.preact_conv1x1(x, scale, shift, weight, bias, act, pool)


@torch.library.register_fake("cnnfast::preact_conv1x1")
def _preact_conv1x1_fake(x, scale, shift, weight, bias, act, pool=1):
    torch._check(x.dim() == 4, lambda: f"cnnfast.preact_conv1x1: x must be 4-D, got {x.dim()}-D")
    torch._check(weight.dim() == 4 and weight.shape[1] == x.shape[1] and weight.shape[2] == 1
                 and weight.shape[3] == 1,
                 lambda: f"cnnfast.preact_conv1x1: weight must have shape (C_out, {x.shape[1]}, 1, 1)")
    torch._check(scale.shape == (x.shape[1],) and shift.shape == (x.shape[1],),
                 lambda: "cnnfast.preact_conv1x1: scale and shift must have shape (C,)")
    torch._check(pool in (1, 2), lambda: f"cnnfast.preact_conv1x1: pool must be 1 or 2, got {pool}")
    shape = (x.shape[0], weight.shape[0], x.shape[2] // pool, x.shape[3] // pool)
    return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=preact_memory_format(x, pool))
