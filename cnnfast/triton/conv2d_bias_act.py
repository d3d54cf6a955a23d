"""conv2d_bias_act in Triton: the fused epilogue (bias + residual + activation) as one strided
pass that can write straight into a channel slice of a bigger tensor (a concat buffer), and an
implicit-GEMM convolution with the same epilogue fused (groups=1), selectable with conv="triton".

By default the convolution itself is cuDNN's (F.conv2d) and only the epilogue is Triton."""

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from cnnfast.contracts.geometry import conv_output_size
from cnnfast.contracts.layout import conv_memory_format
from cnnfast.triton._activations import acc_dtype, activate, code, dot, pixel_tile, upcast_for_dot


@triton.jit
def _epilogue_kernel(y_ptr, b_ptr, r_ptr, o_ptr, numel, C, H, W,
                     syn, syc, syh, syw, srn, src, srh, srw, son, soc, soh, sow,
                     HAS_BIAS: tl.constexpr, HAS_RES: tl.constexpr, ACT: tl.constexpr, ACC: tl.constexpr,
                     BLOCK: tl.constexpr):
    # Logical (n, c, h, w) order with every tensor's own strides: any layout, slices included.
    i = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = i < numel
    w = i % W
    h = (i // W) % H
    c = (i // (W * H)) % C
    n = i // (W * H * C)
    v = tl.load(y_ptr + n * syn + c * syc + h * syh + w * syw, mask=mask, other=0.0).to(ACC)
    if HAS_BIAS:
        v += tl.load(b_ptr + c, mask=mask, other=0.0).to(ACC)
    if HAS_RES:
        v += tl.load(r_ptr + n * srn + c * src + h * srh + w * srw, mask=mask, other=0.0).to(ACC)
    tl.store(o_ptr + n * son + c * soc + h * soh + w * sow, activate(v, ACT).to(o_ptr.dtype.element_ty), mask=mask)


def bias_residual_act(y: torch.Tensor, bias: Optional[torch.Tensor], residual: Optional[torch.Tensor],
                      act: str, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """out = act(y + bias[c] + residual) for 4-D y; out defaults to a tensor like y and may be any
    strided view of y's shape (for example torch.cat's destination slice), or y itself."""
    if out is None:
        out = torch.empty_like(y)
    if tuple(out.shape) != tuple(y.shape):
        raise ValueError(f"cnnfast (Triton): out has shape {tuple(out.shape)}, expected {tuple(y.shape)}")
    if y.numel() == 0:
        return out
    res = residual.expand(y.shape) if residual is not None else y
    n, c, h, w = y.shape
    block = 1024
    _epilogue_kernel[(triton.cdiv(y.numel(), block),)](
        y, bias if bias is not None else y, res, out, y.numel(), c, h, w, *y.stride(), *res.stride(), *out.stride(),
        HAS_BIAS=bias is not None, HAS_RES=residual is not None, ACT=code(act), ACC=acc_dtype(y.dtype), BLOCK=block)
    return out


@triton.jit
def _igemm_kernel(x_ptr, w_ptr, b_ptr, r_ptr, o_ptr, N, C, H, W, K_OUT, OH, OW, KH, KW,
                  stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
                  sxn, sxc, sxh, sxw, swo, swc, swh, sww, srn, src, srh, srw, son, soc, soh, sow,
                  HAS_BIAS: tl.constexpr, HAS_RES: tl.constexpr, ACT: tl.constexpr, ACC: tl.constexpr,
                  IEEE: tl.constexpr, UPCAST: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
    # Rows: output pixels (n, oh, ow); columns: output channels; reduction: (kh, kw, ci) with the
    # input channel fastest, so channels_last inputs load contiguous runs.
    n, oh, ow, co, m_ok, co_ok = pixel_tile(N, OH, OW, K_OUT, BM, BN)
    acc = tl.zeros((BM, BN), dtype=ACC)  # fp64 for double inputs: the loop-carried type must match tl.dot's
    k_total = C * KH * KW
    for k0 in range(0, k_total, BK):
        k = k0 + tl.arange(0, BK)
        ci = k % C
        kw = (k // C) % KW
        kh = k // (C * KW)
        k_ok = k < k_total
        ih = oh[:, None] * stride_h - pad_h + kh[None, :] * dil_h
        iw = ow[:, None] * stride_w - pad_w + kw[None, :] * dil_w
        a_ok = m_ok[:, None] & k_ok[None, :] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
        a = tl.load(x_ptr + n[:, None] * sxn + ci[None, :] * sxc + ih * sxh + iw * sxw, mask=a_ok, other=0.0)
        b = tl.load(w_ptr + co[None, :] * swo + ci[:, None] * swc + kh[:, None] * swh + kw[:, None] * sww,
                    mask=k_ok[:, None] & co_ok[None, :], other=0.0)
        acc += dot(a, b, IEEE, UPCAST)
    v = acc.to(ACC)
    if HAS_BIAS:
        v += tl.load(b_ptr + co, mask=co_ok, other=0.0).to(ACC)[None, :]
    o_off = n[:, None] * son + co[None, :] * soc + oh[:, None] * soh + ow[:, None] * sow
    ok = m_ok[:, None] & co_ok[None, :]
    if HAS_RES:
        v += tl.load(r_ptr + n[:, None] * srn + co[None, :] * src + oh[:, None] * srh + ow[:, None] * srw,
                     mask=ok, other=0.0).to(ACC)
    tl.store(o_ptr + o_off, activate(v, ACT).to(o_ptr.dtype.element_ty), mask=ok)


def conv2d_bias_act(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                    stride: Sequence[int] = (1, 1), padding: Sequence[int] = (0, 0),
                    dilation: Sequence[int] = (1, 1), groups: int = 1, residual: Optional[torch.Tensor] = None,
                    act: str = "none", out: Optional[torch.Tensor] = None, conv: str = "cudnn") -> torch.Tensor:
    """act(conv2d(x, weight) + bias + residual), like torch.ops.cnnfast.conv2d_bias_act (output in
    x's layout), or written into `out` (any strides: a channel slice of a concat buffer).
    conv="cudnn": ATen's convolution then the Triton epilogue; conv="triton": the implicit-GEMM
    kernel with the epilogue fused (groups=1 only)."""
    if x.dim() != 4 or weight.dim() != 4:
        raise ValueError("cnnfast.conv2d_bias_act (Triton): x and weight must be 4-D")
    stride, padding, dilation = list(stride), list(padding), list(dilation)
    n, c, h, w = x.shape
    k_out, _, kh, kw = weight.shape
    oh = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    ow = conv_output_size(w, kw, stride[1], padding[1], dilation[1])
    if out is None:
        out = torch.empty((n, k_out, oh, ow), dtype=x.dtype, device=x.device,
                          memory_format=conv_memory_format(x))
    if residual is not None:
        residual = residual.expand(out.shape)
    if conv == "cudnn":
        y = F.conv2d(x, weight, None, stride, padding, dilation, groups)
        return bias_residual_act(y, bias, residual, act, out)
    if conv != "triton":
        raise ValueError(f"cnnfast: conv must be 'cudnn' or 'triton', got {conv!r}")
    if groups != 1:
        raise ValueError("cnnfast.conv2d_bias_act (Triton implicit GEMM): groups=1 only")
    if out.numel() == 0:
        return out
    res = residual if residual is not None else out
    bm, bn, bk = 64, (64 if k_out > 32 else 32), 32
    grid = (triton.cdiv(n * oh * ow, bm), triton.cdiv(k_out, bn))
    _igemm_kernel[grid](
        x, weight, bias if bias is not None else x, res, out, n, c, h, w, k_out, oh, ow, kh, kw,
        stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1],
        *x.stride(), *weight.stride(), *res.stride(), *out.stride(),
        HAS_BIAS=bias is not None, HAS_RES=residual is not None, ACT=code(act), ACC=acc_dtype(x.dtype),
        IEEE=x.dtype == torch.float32, UPCAST=upcast_for_dot(x.dtype), BM=bm, BN=bn, BK=bk)
    return out
