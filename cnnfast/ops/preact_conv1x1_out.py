"""cnnfast.ops.preact_conv1x1_out: preact_conv1x1 written into a tensor the caller provides.

`out` may have any strides; the use it exists for is a channel slice of a concat buffer: a DenseNet
transition's output is the first part of the next dense block's concatenations, so that no copy
puts it there afterwards. Schema and kernels: csrc/ops/preact_conv1x1_out (CPU: the fused loop
writes the slice; elsewhere the result is computed and copied in).
"""

from typing import Optional

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.ops.preact_conv1x1 import _preact_conv1x1_fake


def preact_conv1x1_out(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, weight: torch.Tensor,
                       bias: Optional[torch.Tensor] = None, act: str = "none", pool: int = 1, *,
                       out: torch.Tensor) -> torch.Tensor:
    """``out[...] = preact_conv1x1(x, scale, shift, weight, bias, act, pool)``; returns out.

    out must have the output's shape (N, C_out, H // pool, W // pool), x's dtype and device, and
    must not share memory with x. Arguments otherwise as cnnfast.ops.preact_conv1x1."""
    check_activation(act)
    torch.ops.cnnfast.preact_conv1x1_out(x, scale, shift, weight, bias, act, pool, out)
    return out


@torch.library.register_fake("cnnfast::preact_conv1x1_out")
def _preact_conv1x1_out_fake(x, scale, shift, weight, bias, act, pool, out):
    expected = _preact_conv1x1_fake(x, scale, shift, weight, bias, act, pool).shape
    torch._check(tuple(out.shape) == tuple(expected),
                 lambda: f"cnnfast.preact_conv1x1_out: out has shape {tuple(out.shape)}, expected {tuple(expected)}")
    torch._check(out.dtype == x.dtype, lambda: "cnnfast.preact_conv1x1_out: out dtype differs from x dtype")
