"""se_scale in Triton: act(x * gate + residual) as one elementwise pass in memory order."""

from typing import Optional

import torch
import triton
import triton.language as tl

from cnnfast.contracts.layout import elementwise_memory_format
from cnnfast.triton._activations import acc_dtype, activate, code


@triton.jit
def _se_scale_kernel(x_ptr, g_ptr, r_ptr, out_ptr, numel, C, HW, HAS_RES: tl.constexpr,
                     CHANNELS_LAST: tl.constexpr, ACT: tl.constexpr, ACC: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < numel
    if CHANNELS_LAST:
        nc = (offs // (HW * C)) * C + offs % C
    else:
        nc = offs // HW
    v = tl.load(x_ptr + offs, mask=mask, other=0.0).to(ACC) * tl.load(g_ptr + nc, mask=mask, other=0.0).to(ACC)
    if HAS_RES:
        v += tl.load(r_ptr + offs, mask=mask, other=0.0).to(ACC)
    tl.store(out_ptr + offs, activate(v, ACT).to(out_ptr.dtype.element_ty), mask=mask)


def se_scale(x: torch.Tensor, gate: torch.Tensor, residual: Optional[torch.Tensor] = None,
             act: str = "none", out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """act(x * gate[:, :, None, None] + residual), like torch.ops.cnnfast.se_scale (same layout
    rule); with out=x, written over x like torch.ops.cnnfast.se_scale_."""
    if x.dim() != 4:
        raise ValueError(f"cnnfast.se_scale: x must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    if gate.numel() != n * c:
        raise ValueError(f"cnnfast.se_scale: gate must have shape (N, C) = ({n}, {c}), got {tuple(gate.shape)}")
    if residual is not None and residual.shape != x.shape:
        raise ValueError(f"cnnfast.se_scale: residual must have x's shape {tuple(x.shape)}, "
                         f"got {tuple(residual.shape)}")
    if out is not None and (out is not x or not x.is_contiguous(memory_format=elementwise_memory_format(x))):
        if out is x:  # a strided view: compute, then write back
            return x.copy_(se_scale(x, gate, residual, act))
        raise ValueError("cnnfast.se_scale (Triton): out must be x itself")
    fmt = elementwise_memory_format(x)
    x = x.contiguous(memory_format=fmt)
    if out is None:
        out = torch.empty_like(x, memory_format=fmt)
    if out.numel() == 0:
        return out
    res = residual.contiguous(memory_format=fmt) if residual is not None else x
    block = 1024
    _se_scale_kernel[(triton.cdiv(x.numel(), block),)](
        x, gate.contiguous(), res, out, x.numel(), c, h * w, HAS_RES=residual is not None,
        CHANNELS_LAST=fmt == torch.channels_last, ACT=code(act), ACC=acc_dtype(x.dtype), BLOCK=block)
    return out
