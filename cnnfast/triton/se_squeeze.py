"""se_squeeze in Triton: per-channel mean over H x W, one program per (image, block of channels);
strided loads make one kernel serve NCHW and channels_last."""

import torch
import triton
import triton.language as tl

from cnnfast.triton._activations import acc_dtype


@triton.jit
def _se_squeeze_kernel(x_ptr, out_ptr, C, HW, W, stride_n, stride_c, stride_h, stride_w,
                       ACC: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_HW: tl.constexpr):
    n = tl.program_id(0)
    cs = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    acc = tl.zeros((BLOCK_HW, BLOCK_C), ACC)
    for start in range(0, HW, BLOCK_HW):
        p = start + tl.arange(0, BLOCK_HW)
        ptrs = (x_ptr + n * stride_n + cs[None, :] * stride_c
                + (p // W)[:, None] * stride_h + (p % W)[:, None] * stride_w)
        mask = (p[:, None] < HW) & (cs[None, :] < C)
        acc += tl.load(ptrs, mask=mask, other=0.0).to(ACC)
    mean = tl.sum(acc, axis=0) / HW
    tl.store(out_ptr + n * C + cs, mean.to(out_ptr.dtype.element_ty), mask=cs < C)


def se_squeeze(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in any strides -> (N, C) means, like torch.ops.cnnfast.se_squeeze."""
    if x.dim() != 4:
        raise ValueError(f"cnnfast.se_squeeze: x must be 4-D (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    if h * w == 0:
        raise ValueError("cnnfast.se_squeeze: x has an empty H x W map; its mean is undefined")
    out = x.new_empty((n, c))
    if out.numel() == 0:
        return out
    block_c = min(64, triton.next_power_of_2(c))
    block_hw = min(64, triton.next_power_of_2(h * w))
    grid = (n, triton.cdiv(c, block_c))
    _se_squeeze_kernel[grid](x, out, c, h * w, w, *x.stride(), ACC=acc_dtype(x.dtype),
                             BLOCK_C=block_c, BLOCK_HW=block_hw)
    return out
