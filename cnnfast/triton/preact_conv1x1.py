"""preact_conv1x1 in Triton: BN + ReLU (+ 2x2 average pool) applied to each input tile as it is
loaded, then the 1x1 conv as a tile product, bias and activation in the epilogue; the activated
map never exists in memory. Rows: output pixels; columns: output channels; reduction: input
channels. Strided loads take NCHW, channels_last and channel slices of a concat buffer."""

from typing import Optional

import torch
import triton
import triton.language as tl

from cnnfast.contracts.layout import preact_memory_format
from cnnfast.triton._activations import acc_dtype, activate, code, dot, pixel_tile, upcast_for_dot


@triton.jit
def _preact_kernel(x_ptr, scale_ptr, shift_ptr, w_ptr, b_ptr, o_ptr, N, C, K_OUT, OH, OW,
                   sxn, sxc, sxh, sxw, swo, swc, son, soc, soh, sow,
                   POOL: tl.constexpr, HAS_BIAS: tl.constexpr, ACT: tl.constexpr, ACC: tl.constexpr,
                   IEEE: tl.constexpr, UPCAST: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr,
                   BK: tl.constexpr):
    n, oh, ow, co, m_ok, co_ok = pixel_tile(N, OH, OW, K_OUT, BM, BN)
    acc = tl.zeros((BM, BN), dtype=ACC)
    for k0 in range(0, C, BK):
        ci = k0 + tl.arange(0, BK)
        k_ok = ci < C
        ok = m_ok[:, None] & k_ok[None, :]
        s = tl.load(scale_ptr + ci, mask=k_ok, other=0.0).to(ACC)[None, :]
        t = tl.load(shift_ptr + ci, mask=k_ok, other=0.0).to(ACC)[None, :]
        a = tl.zeros((BM, BK), dtype=ACC)
        for dy in range(0, POOL):
            for dx in range(0, POOL):
                ptr = x_ptr + (n * sxn + (oh * POOL + dy) * sxh + (ow * POOL + dx) * sxw)[:, None] + ci[None, :] * sxc
                v = tl.load(ptr, mask=ok, other=0.0).to(ACC) * s + t
                a += tl.where(v < 0, 0.0, v)  # ReLU; NaN < 0 is false, so NaN is kept
        if POOL > 1:
            a = a / (POOL * POOL)
        a = tl.where(ok, a, 0.0)  # padding lanes: relu(shift) need not be 0
        b = tl.load(w_ptr + co[None, :] * swo + ci[:, None] * swc, mask=k_ok[:, None] & co_ok[None, :], other=0.0)
        acc += dot(a.to(w_ptr.dtype.element_ty), b, IEEE, UPCAST)
    v = acc
    if HAS_BIAS:
        v += tl.load(b_ptr + co, mask=co_ok, other=0.0).to(ACC)[None, :]
    ok = m_ok[:, None] & co_ok[None, :]
    tl.store(o_ptr + (n * son + oh * soh + ow * sow)[:, None] + co[None, :] * soc,
             activate(v, ACT).to(o_ptr.dtype.element_ty), mask=ok)


def preact_conv1x1(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None, act: str = "none", pool: int = 1) -> torch.Tensor:
    """Like torch.ops.cnnfast.preact_conv1x1 (same definition and output layout)."""
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[1] != x.shape[1] or weight.shape[2:] != (1, 1):
        raise ValueError(f"cnnfast.preact_conv1x1 (Triton): x (N, C, H, W) and weight (C_out, C, 1, 1) "
                         f"expected, got {tuple(x.shape)} and {tuple(weight.shape)}")
    if pool not in (1, 2):
        raise ValueError(f"cnnfast.preact_conv1x1: pool must be 1 or 2, got {pool}")
    n, c, h, w = x.shape
    k_out = weight.shape[0]
    oh, ow = h // pool, w // pool
    out = torch.empty((n, k_out, oh, ow), dtype=x.dtype, device=x.device,
                      memory_format=preact_memory_format(x, pool))
    if out.numel() == 0:
        return out
    w2 = weight.reshape(k_out, c)
    bm, bn, bk = 64, (64 if k_out > 32 else 32), 32
    grid = (triton.cdiv(n * oh * ow, bm), triton.cdiv(k_out, bn))
    _preact_kernel[grid](
        x, scale, shift, w2, bias if bias is not None else scale, out, n, c, k_out, oh, ow,
        *x.stride(), *w2.stride(), *out.stride(),
        POOL=pool, HAS_BIAS=bias is not None, ACT=code(act), ACC=acc_dtype(x.dtype),
        IEEE=x.dtype == torch.float32, UPCAST=upcast_for_dot(x.dtype), BM=bm, BN=bn, BK=bk)
    return out
