"""cnnfast.ops.se_excite: the excitation of a squeeze-and-excitation block, two FC layers in one op.

Schema and kernels: csrc/ops/se_excite; Triton version: cnnfast/triton/se_excite.py.
"""

from typing import Optional

import torch

from cnnfast.contracts.activations import check_activation
from cnnfast.ops._backend import check_backend, use_triton


def se_excite(s: torch.Tensor, w1: torch.Tensor, b1: Optional[torch.Tensor], w2: torch.Tensor,
              b2: Optional[torch.Tensor], act1: str = "relu", act2: str = "sigmoid", *,
              backend: str = "auto") -> torch.Tensor:
    """``act2(act1(s @ w1.T + b1) @ w2.T + b2)``.

    s: (N, C) pooled channels; w1: (R, C) and b1: (R,) or None, the reduce layer; w2: (C, R) and
    b2: (C,) or None, the expand layer; act1/act2: cnnfast activation names (typically relu or
    silu, then sigmoid or hardsigmoid). Returns the (N, C) gate. backend: "auto" or "triton".
    """
    check_activation(act1)
    check_activation(act2)
    check_backend(backend)
    if use_triton(backend):
        from cnnfast.triton.se_excite import se_excite as triton_se_excite

        return triton_se_excite(s, w1, b1, w2, b2, act1, act2)
    return torch.ops.cnnfast.se_excite(s, w1, b1, w2, b2, act1, act2)


@torch.library.register_fake("cnnfast::se_excite")
def _se_excite_fake(s, w1, b1, w2, b2, act1, act2):
    torch._check(s.dim() == 2, lambda: "cnnfast.se_excite: s must be 2-D (N, C)")
    torch._check(w1.dim() == 2 and w1.shape[1] == s.shape[1],
                 lambda: f"cnnfast.se_excite: w1 must have shape (R, {s.shape[1]})")
    torch._check(w2.dim() == 2 and w2.shape[0] == s.shape[1] and w2.shape[1] == w1.shape[0],
                 lambda: f"cnnfast.se_excite: w2 must have shape ({s.shape[1]}, {w1.shape[0]})")
    return s.new_empty((s.shape[0], s.shape[1]))
