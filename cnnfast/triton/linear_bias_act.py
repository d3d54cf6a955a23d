"""linear_bias_act in Triton: a tiled matmul with the bias and activation fused in its epilogue."""

from typing import Optional

import torch
import triton
import triton.language as tl

from cnnfast.triton._activations import acc_dtype, activate, code, dot, upcast_for_dot


@triton.jit
def _linear_kernel(x_ptr, w_ptr, b_ptr, o_ptr, N, K, M, sxn, sxk, swm, swk,
                   HAS_BIAS: tl.constexpr, ACT: tl.constexpr, ACC: tl.constexpr, IEEE: tl.constexpr, UPCAST: tl.constexpr,
                   BN: tl.constexpr, BM: tl.constexpr, BK: tl.constexpr):
    rows = tl.program_id(0) * BN + tl.arange(0, BN)
    cols = tl.program_id(1) * BM + tl.arange(0, BM)
    acc = tl.zeros((BN, BM), dtype=ACC)  # fp64 for double inputs: the loop-carried type must match tl.dot's
    for k0 in range(0, K, BK):
        k = k0 + tl.arange(0, BK)
        a = tl.load(x_ptr + rows[:, None] * sxn + k[None, :] * sxk, mask=(rows[:, None] < N) & (k[None, :] < K), other=0.0)
        b = tl.load(w_ptr + cols[None, :] * swm + k[:, None] * swk, mask=(cols[None, :] < M) & (k[:, None] < K), other=0.0)
        acc += dot(a, b, IEEE, UPCAST)
    v = acc.to(ACC)
    if HAS_BIAS:
        v += tl.load(b_ptr + cols, mask=cols < M, other=0.0).to(ACC)[None, :]
    ok = (rows[:, None] < N) & (cols[None, :] < M)
    tl.store(o_ptr + rows[:, None] * M + cols[None, :], activate(v, ACT).to(o_ptr.dtype.element_ty), mask=ok)


def linear_bias_act(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                    act: str = "none") -> torch.Tensor:
    """act(x @ weight.T + bias) for x (N, K), weight (M, K), like torch.ops.cnnfast.linear_bias_act."""
    if x.dim() != 2 or weight.dim() != 2 or weight.shape[1] != x.shape[1]:
        raise ValueError(f"cnnfast.linear_bias_act (Triton): expected x (N, K) and weight (M, K), got "
                         f"{tuple(x.shape)} and {tuple(weight.shape)}")
    n, k = x.shape
    m = weight.shape[0]
    out = x.new_empty((n, m))
    if out.numel() == 0:
        return out
    bn, bm, bk = 16, 64, 32
    _linear_kernel[(triton.cdiv(n, bn), triton.cdiv(m, bm))](
        x, weight, bias if bias is not None else x, out, n, k, m, *x.stride(), *weight.stride(),
        HAS_BIAS=bias is not None, ACT=code(act), ACC=acc_dtype(x.dtype), IEEE=x.dtype == torch.float32, UPCAST=upcast_for_dot(x.dtype),
        BN=bn, BM=bm, BK=bk)
    return out
