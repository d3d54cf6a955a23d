"""Property-based: the ops the Inception/DenseNet passes use (max_pool2d, preact_conv1x1,
conv2d_bias_act_out) equal their references over random shapes, layouts, channel slices, pools
and activations. HYPOTHESIS_PROFILE=long runs a deeper search than CI's default."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, strategies as st

import cnnfast
from cnnfast import reference
from cnnfast.ops import ACTIVATIONS
from cnnfast.testing import rel_err
from tests._helpers import TOLERANCE

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")


def _map(g, n, c, h, w, layout, extra=0):
    """An (n, c, h, w) map: NCHW, channels_last, or the leading channels of a wider channels_last
    buffer (what a concat buffer hands out)."""
    full = torch.randn(n, c + extra, h, w, generator=g)
    if layout == "nchw":
        return full[:, :c].contiguous()
    full = full.contiguous(memory_format=torch.channels_last)
    return full[:, :c] if layout == "slice" else full[:, :c].contiguous(memory_format=torch.channels_last)


@given(n=st.integers(0, 3), c=st.integers(1, 40), h=st.integers(1, 15), w=st.integers(1, 15), k=st.integers(1, 4),
       s=st.integers(1, 3), p=st.integers(0, 2), ceil=st.booleans(), layout=st.sampled_from(["nchw", "cl"]),
       nan=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_max_pool2d(n, c, h, w, k, s, p, ceil, layout, nan, seed):
    assume(2 * p <= k and h + 2 * p >= k and w + 2 * p >= k)
    x = _map(torch.Generator().manual_seed(seed), n, c, h, w, layout)
    if nan and x.numel():
        x[seed % n, seed % c, seed % h, seed % w] = float("nan")
    out = cnnfast.ops.max_pool2d(x, k, s, p, ceil)
    ref = F.max_pool2d(x, k, s, p, 1, ceil)
    assert out.shape == ref.shape
    assert torch.equal(out.isnan(), ref.isnan()) and torch.equal(out.nan_to_num(0.5), ref.nan_to_num(0.5))


@given(n=st.integers(1, 3), c=st.integers(1, 70), h=st.integers(1, 12), w=st.integers(1, 12),
       c_out=st.integers(1, 20), pool=st.sampled_from([1, 2]), layout=st.sampled_from(["nchw", "cl", "slice"]),
       act=st.sampled_from(ACTIVATIONS), bias=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_preact_conv1x1(n, c, h, w, c_out, pool, layout, act, bias, seed):
    assume(h >= pool and w >= pool)
    g = torch.Generator().manual_seed(seed)
    x = _map(g, n, c, h, w, layout, extra=5)
    scale, shift = torch.rand(c, generator=g) + 0.5, 0.5 * torch.randn(c, generator=g)
    wt = torch.randn(c_out, c, 1, 1, generator=g) / c ** 0.5
    b = torch.randn(c_out, generator=g) if bias else None
    out = cnnfast.ops.preact_conv1x1(x, scale, shift, wt, b, act, pool)
    ref = reference.preact_conv1x1(x.double(), scale.double(), shift.double(), wt.double(),
                                   b.double() if bias else None, act, pool)
    assert out.shape == ref.shape
    # A 1x1 conv's rounding error scales with the sum of |terms|, not with the result: where the
    # ReLU leaves one output and that is small by cancellation (found: max |ref| = 4e-4 from terms
    # of ~0.1, absolute error 5e-9), relative-to-result error says nothing. Bound it by both.
    terms = reference.preact_conv1x1(x.double(), scale.double(), shift.double(), wt.double().abs(), None,
                                     "none", pool).abs().max().item()
    err = (out.double() - ref).abs().max().item()
    assert rel_err(out, ref) <= TOLERANCE[torch.float32] or err <= TOLERANCE[torch.float32] * terms


@given(n=st.integers(1, 3), c=st.integers(1, 24), h=st.integers(1, 12), c_out=st.integers(1, 20),
       k=st.sampled_from([1, 3, 5]), s=st.integers(1, 2), before=st.integers(0, 9), after=st.integers(0, 9),
       layout=st.sampled_from(["nchw", "cl"]), act=st.sampled_from(ACTIVATIONS), residual=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_conv2d_bias_act_out(n, c, h, c_out, k, s, before, after, layout, act, residual, seed):
    p = k // 2
    g = torch.Generator().manual_seed(seed)
    x = _map(g, n, c, h, h, layout)
    wt, b = torch.randn(c_out, c, k, k, generator=g) / (c * k * k) ** 0.5, torch.randn(c_out, generator=g)
    ho = (h + 2 * p - k) // s + 1
    res = torch.randn(n, c_out, ho, ho, generator=g) if residual else None
    buf = torch.full((n, before + c_out + after, ho, ho), 7.0)
    if layout == "cl":
        buf = buf.contiguous(memory_format=torch.channels_last)
    out = buf[:, before:before + c_out]
    cnnfast.ops.conv2d_bias_act_out(x, wt, b, s, p, 1, 1, res, act, out=out)
    ref = reference.conv2d_bias_act(x.double(), wt.double(), b.double(), (s, s), (p, p), (1, 1), 1,
                                    res.double() if residual else None, act)
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]
    assert (buf[:, :before] == 7.0).all() and (buf[:, before + c_out:] == 7.0).all()
