"""max_pool2d in Triton: one program per (image, block of output pixels, block of channels), a
running max over the window taps; strided loads serve NCHW and channels_last alike."""

import torch
import triton
import triton.language as tl

from cnnfast.contracts.geometry import pool_output_size
from cnnfast.contracts.layout import elementwise_memory_format


@triton.jit
def _max_pool2d_kernel(x_ptr, o_ptr, C, H, W, OH, OW, KH, KW, stride_h, stride_w, pad_h, pad_w,
                       sxn, sxc, sxh, sxw, son, soc, soh, sow, BP: tl.constexpr, BC: tl.constexpr):
    n = tl.program_id(0)
    p = tl.program_id(1) * BP + tl.arange(0, BP)
    c = tl.program_id(2) * BC + tl.arange(0, BC)
    oh = p // OW
    ow = p % OW
    ok = (p < OH * OW)[:, None] & (c < C)[None, :]
    best = tl.full((BP, BC), float("-inf"), tl.float32)
    nan = tl.zeros((BP, BC), tl.int1)
    for kh in range(0, KH):
        ih = oh * stride_h - pad_h + kh
        for kw in range(0, KW):
            iw = ow * stride_w - pad_w + kw
            tap = ok & ((ih >= 0) & (ih < H) & (iw >= 0) & (iw < W))[:, None]
            v = tl.load(x_ptr + n * sxn + c[None, :] * sxc + (ih * sxh + iw * sxw)[:, None], mask=tap,
                        other=float("-inf")).to(tl.float32)
            nan = nan | (v != v)  # a NaN in the window makes the max NaN, as in eager
            best = tl.maximum(best, v)
    best = tl.where(nan, float("nan"), best)
    tl.store(o_ptr + n * son + c[None, :] * soc + (oh * soh + ow * sow)[:, None],
             best.to(o_ptr.dtype.element_ty), mask=ok)


def max_pool2d(x: torch.Tensor, kernel, stride, padding, ceil_mode: bool) -> torch.Tensor:
    """Like torch.ops.cnnfast.max_pool2d (kernel/stride/padding as pairs; output in x's layout)."""
    if x.dim() != 4:
        raise ValueError(f"cnnfast.max_pool2d (Triton): x must be 4-D, got shape {tuple(x.shape)}")
    if x.dtype == torch.float64:
        # The running max is kept in fp32 (exact for fp32/fp16/bf16 inputs, not for double).
        raise TypeError("cnnfast.max_pool2d (Triton): float64 is not supported; use backend='auto'")
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if ph * 2 > kh or pw * 2 > kw:
        raise ValueError("cnnfast.max_pool2d: padding must be at most half the kernel size")
    n, c, h, w = x.shape
    oh, ow = pool_output_size(h, kh, sh, ph, ceil_mode), pool_output_size(w, kw, sw, pw, ceil_mode)
    out = torch.empty((n, c, oh, ow), dtype=x.dtype, device=x.device, memory_format=elementwise_memory_format(x))
    if out.numel() == 0:
        return out
    bp, bc = 32, min(64, triton.next_power_of_2(c))
    grid = (n, triton.cdiv(oh * ow, bp), triton.cdiv(c, bc))
    _max_pool2d_kernel[grid](x, out, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, *x.stride(), *out.stride(),
                             BP=bp, BC=bc)
    return out
