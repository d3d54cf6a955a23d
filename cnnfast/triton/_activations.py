"""Helpers shared by the Triton kernels: the cnnfast activations (chosen at compile time by a
constexpr code), the accumulation dtype, tile products, and a conv-as-GEMM output tile."""

import triton
import triton.language as tl

from cnnfast.contracts.activations import ACTIVATIONS

# The kernels take the activation as a small integer constexpr: its index in ACTIVATIONS.
CODES = {name: i for i, name in enumerate(ACTIVATIONS)}


def code(act: str) -> int:
    if act not in CODES:
        raise ValueError(f"cnnfast: act must be one of {', '.join(ACTIVATIONS)}; got {act!r}")
    return CODES[act]


def upcast_for_dot(dtype) -> bool:
    """Triton's CPU interpreter multiplies bf16 tiles wrongly (numpy has no bf16), so under
    TRITON_INTERPRET=1 bf16 tiles go through tl.dot as fp32; compiled GPU kernels keep bf16."""
    import os

    import torch

    return dtype == torch.bfloat16 and os.environ.get("TRITON_INTERPRET") == "1"


def acc_dtype(dtype):
    """Accumulate in fp32, or fp64 for double inputs (as the C++ kernels do)."""
    import torch

    return tl.float64 if dtype == torch.float64 else tl.float32


@triton.jit
def dot(a, b, IEEE: tl.constexpr, UPCAST: tl.constexpr):
    """tl.dot of two tiles: fp32 in IEEE precision (no TF32, so fp32 results match the C++
    kernels' tolerance), bf16 as fp32 under the interpreter (see upcast_for_dot)."""
    if UPCAST:
        a = a.to(tl.float32)
        b = b.to(tl.float32)
    if IEEE:
        out = tl.dot(a, b, input_precision="ieee")
    else:
        out = tl.dot(a, b)
    return out


@triton.jit
def activate(v, ACT: tl.constexpr):
    # Codes follow ACTIVATIONS: none relu relu6 silu sigmoid hardswish hardsigmoid tanh.
    if ACT == 1:
        v = tl.where(v < 0, 0.0, v)  # NaN < 0 is false: NaN is kept, as torch.relu does
    elif ACT == 2:
        v = tl.where(v < 0, 0.0, tl.where(v > 6, 6.0, v))
    elif ACT == 3:
        v = v / (1.0 + tl.exp(-v))
    elif ACT == 4:
        v = 1.0 / (1.0 + tl.exp(-v))
    elif ACT == 5:
        r = v + 3.0
        v = v * tl.where(r < 0, 0.0, tl.where(r > 6, 6.0, r)) / 6.0
    elif ACT == 6:
        r = v + 3.0
        v = tl.where(r < 0, 0.0, tl.where(r > 6, 6.0, r)) / 6.0
    elif ACT == 7:
        v = 2.0 / (1.0 + tl.exp(-2.0 * v)) - 1.0
    return v


@triton.jit
def pixel_tile(N, OH, OW, K_OUT, BM: tl.constexpr, BN: tl.constexpr):
    """The output tile of this program in a conv written as a GEMM (rows: output pixels, columns:
    output channels): (n, oh, ow) of its BM pixels, its BN channels, and their in-range masks."""
    m = tl.program_id(0) * BM + tl.arange(0, BM)
    co = tl.program_id(1) * BN + tl.arange(0, BN)
    return m // (OW * OH), (m // OW) % OH, m % OW, co, m < N * OH * OW, co < K_OUT
