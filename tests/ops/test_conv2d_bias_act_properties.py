"""Property-based: conv2d_bias_act equals its float64 reference over random shapes, strides,
layouts and parameters. HYPOTHESIS_PROFILE=long runs a deeper search than CI's default."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

import cnnfast
from cnnfast.ops import ACTIVATIONS
from cnnfast.reference import conv2d_bias_act as reference
from tests._helpers import TOLERANCE

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")


@st.composite
def conv_case(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin = groups * draw(st.integers(1, 5))
    depthwise = draw(st.booleans()) and groups == 1
    if depthwise:  # depthwise: groups == channels
        groups = cin
    cout = groups * draw(st.integers(1, 4))
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    extent = [dilation[i] * (k[i] - 1) + 1 - 2 * padding[i] for i in range(2)]
    h = draw(st.integers(max(1, extent[0]), max(1, extent[0]) + 9))
    w = draw(st.integers(max(1, extent[1]), max(1, extent[1]) + 9))
    batch = draw(st.integers(0, 3))
    layout = draw(st.sampled_from(["nchw", "channels_last", "sliced", "permuted"]))
    residual = draw(st.sampled_from([None, "full", "broadcast"]))
    act = draw(st.sampled_from(ACTIVATIONS))
    bias = draw(st.booleans())
    dtype = draw(st.sampled_from([torch.float32, torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**31 - 1))
    return dict(groups=groups, cin=cin, cout=cout, k=k, stride=stride, dilation=dilation, padding=padding,
                h=h, w=w, batch=batch, layout=layout, residual=residual, act=act, bias=bias, dtype=dtype,
                seed=seed)


def _make(case):
    g = torch.Generator().manual_seed(case["seed"])
    n, cin, h, w = case["batch"], case["cin"], case["h"], case["w"]
    x = 3 * torch.randn(n, cin, h, w, generator=g)
    if case["layout"] == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif case["layout"] == "sliced":  # every other column of a wider tensor
        x = torch.cat([x, x], dim=3)[..., ::2]
    elif case["layout"] == "permuted":  # (N, H, C, W) storage seen as (N, C, H, W)
        x = x.permute(0, 2, 1, 3).contiguous().permute(0, 2, 1, 3)
    weight = torch.randn(case["cout"], cin // case["groups"], *case["k"], generator=g)
    weight /= weight[0].numel() ** 0.5
    bias = torch.randn(case["cout"], generator=g) if case["bias"] else None
    out_hw = [(x.shape[2 + i] + 2 * case["padding"][i] - case["dilation"][i] * (case["k"][i] - 1) - 1)
              // case["stride"][i] + 1 for i in range(2)]
    residual = None
    if case["residual"] == "full":
        residual = torch.randn(n, case["cout"], *out_hw, generator=g)
    elif case["residual"] == "broadcast":
        residual = torch.randn(1, case["cout"], 1, 1, generator=g)
    cast = lambda t: t.to(case["dtype"]) if t is not None else None  # noqa: E731
    return cast(x), cast(weight), cast(bias), cast(residual)


@given(conv_case())
@settings(deadline=None)
def test_matches_reference(case):
    x, weight, bias, residual = _make(case)
    args = (case["stride"], case["padding"], case["dilation"], case["groups"])
    out = cnnfast.ops.conv2d_bias_act(x, weight, bias, *args, residual, case["act"])
    ref = reference(x.double(), weight.double(), bias.double() if bias is not None else None, *args,
                    residual.double() if residual is not None else None, case["act"])
    assert out.shape == ref.shape and out.dtype == x.dtype
    if out.numel():
        # Rounding error scales with sum |x * w|, not with the output: after cancellation or
        # ReLU the output can be tiny while every term was large.
        absolute = lambda t: t.double().abs() if t is not None else None  # noqa: E731
        scale = reference(absolute(x), absolute(weight), absolute(bias), *args, absolute(residual), "none")
        err = (out.double() - ref).abs().max() / scale.max().clamp_min(1e-30)
        assert err <= TOLERANCE[case["dtype"]]


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
@pytest.mark.parametrize("gemm", [False, True], ids=["conv", "gemm"])
def test_nan_and_inf_propagate_like_eager(act, layout, residual, gemm):
    size, k, pad = (1, 1, 0) if gemm else (8, 3, 1)
    x = torch.randn(2, 4, size, size)
    x[0, 0, 0, 0] = float("nan")
    x[1, 1, -1, -1] = float("inf")
    x[1, 2, 0, -1] = float("-inf")
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(5, 4, k, k), torch.randn(5)
    res = torch.randn(2, 5, size, size) if residual else None
    out = cnnfast.ops.conv2d_bias_act(x, w, b, 1, pad, 1, 1, res, act)
    ref = reference(x, w, b, (1, 1), (pad, pad), (1, 1), 1, res, act)
    assert torch.isnan(ref).any()
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5, equal_nan=True)
