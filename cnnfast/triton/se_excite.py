"""se_excite in Triton: one program per image runs both FC layers; the hidden layer (R values)
stays in registers between them."""

from typing import Optional

import torch
import triton
import triton.language as tl

from cnnfast.triton._activations import acc_dtype, activate, code


@triton.jit
def _se_excite_kernel(s_ptr, w1_ptr, b1_ptr, w2_ptr, b2_ptr, out_ptr, C, R,
                      HAS_B1: tl.constexpr, HAS_B2: tl.constexpr, ACT1: tl.constexpr, ACT2: tl.constexpr,
                      ACC: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_R: tl.constexpr):
    n = tl.program_id(0)
    rs = tl.arange(0, BLOCK_R)
    hidden = tl.zeros((BLOCK_R,), ACC)
    for c0 in range(0, C, BLOCK_C):
        cs = c0 + tl.arange(0, BLOCK_C)
        sv = tl.load(s_ptr + n * C + cs, mask=cs < C, other=0.0).to(ACC)
        w = tl.load(w1_ptr + rs[:, None] * C + cs[None, :], mask=(rs[:, None] < R) & (cs[None, :] < C), other=0.0)
        hidden += tl.sum(w.to(ACC) * sv[None, :], axis=1)
    if HAS_B1:
        hidden += tl.load(b1_ptr + rs, mask=rs < R, other=0.0).to(ACC)
    # Rounded to the input dtype as the unfused layer's output would be; padding lanes zeroed
    # (an activation of 0 need not be 0).
    hidden = activate(hidden, ACT1).to(out_ptr.dtype.element_ty).to(ACC)
    hidden = tl.where(rs < R, hidden, 0.0)
    for c0 in range(0, C, BLOCK_C):
        cs = c0 + tl.arange(0, BLOCK_C)
        w = tl.load(w2_ptr + cs[:, None] * R + rs[None, :], mask=(cs[:, None] < C) & (rs[None, :] < R), other=0.0)
        o = tl.sum(w.to(ACC) * hidden[None, :], axis=1)
        if HAS_B2:
            o += tl.load(b2_ptr + cs, mask=cs < C, other=0.0).to(ACC)
        tl.store(out_ptr + n * C + cs, activate(o, ACT2).to(out_ptr.dtype.element_ty), mask=cs < C)


def se_excite(s: torch.Tensor, w1: torch.Tensor, b1: Optional[torch.Tensor], w2: torch.Tensor,
              b2: Optional[torch.Tensor], act1: str = "relu", act2: str = "sigmoid") -> torch.Tensor:
    """act2(act1(s @ w1.T + b1) @ w2.T + b2), like torch.ops.cnnfast.se_excite."""
    if s.dim() != 2 or w1.dim() != 2 or w2.dim() != 2:
        raise ValueError("cnnfast.se_excite: s, w1, w2 must be 2-D: (N, C), (R, C), (C, R)")
    n, c = s.shape
    r = w1.shape[0]
    if w1.shape[1] != c or tuple(w2.shape) != (c, r):
        raise ValueError(f"cnnfast.se_excite: expected w1 ({r}, {c}) and w2 ({c}, {r}); "
                         f"got {tuple(w1.shape)} and {tuple(w2.shape)}")
    out = s.new_empty((n, c))
    if n == 0:
        return out
    s, w1, w2 = s.contiguous(), w1.contiguous(), w2.contiguous()
    block_r = triton.next_power_of_2(r)
    block_c = max(16, min(triton.next_power_of_2(c), 4096 // block_r))
    _se_excite_kernel[(n,)](
        s, w1, b1.contiguous() if b1 is not None else s, w2, b2.contiguous() if b2 is not None else s, out,
        c, r, HAS_B1=b1 is not None, HAS_B2=b2 is not None, ACT1=code(act1), ACT2=code(act2),
        ACC=acc_dtype(s.dtype), BLOCK_C=block_c, BLOCK_R=block_r)
    return out
