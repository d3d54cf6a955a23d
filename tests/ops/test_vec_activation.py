"""The vector activations of the CPU kernels' stores (csrc/common/vec_activation.h) in units in
the last place, against float64, over the float range and its special values. They run here through
the direct depthwise kernel with a 1x1 filter of ones and no bias, so the conv is exact and the
output is the activation alone; the other kernels' stores (1x1, conv engine, small CNNs) share the
same code."""

import math

import pytest
import torch

import cnnfast
from cnnfast import config

EPS = 2.0 ** -23  # float32's unit in the last place at 1.0
TINY = 1e-35  # below this magnitude an absolute bound is asked instead (eager's own results are denormal there)

# The exp-based activations: how many ulps each may be off (measured: silu 2.7, sigmoid 1.2, tanh 3.4).
ULPS = {"silu": 3, "sigmoid": 3, "tanh": 4}


def _inputs():
    dense = torch.linspace(-100.0, 100.0, 1 << 18)
    small = torch.linspace(-1e-3, 1e-3, 4096)
    edges = torch.tensor([0.0, -0.0, 1e-40, -1e-40, 1e-30, -1e-30, -87.0, -87.4, -87.7, -88.0, -88.5, -88.8, -89.0,
                          -103.0, -1e4, -3e38, 87.0, 88.0, 88.8, 1e4, 3e38, math.inf, -math.inf, math.nan])
    x = torch.cat([dense, small, edges])
    return torch.cat([x, torch.zeros((-x.numel()) % 16)])


def _through_store(x, act):
    """act(x) computed by the depthwise kernel's vector store: x as 16 channels x many pixels."""
    c = 16
    img = x.reshape(1, -1, 1, c).permute(0, 3, 1, 2)  # (1, 16, P, 1) channels_last view, no copy
    assert img.is_contiguous(memory_format=torch.channels_last)
    weight = torch.ones(c, 1, 1, 1)
    with config.force_conv_path("depthwise"):
        out = cnnfast.ops.conv2d_bias_act(img, weight, None, (1, 1), (0, 0), (1, 1), c, None, act)
    return out.permute(0, 2, 3, 1).reshape(-1)


def _reference(x, act):
    xd = x.double()
    if act == "silu":
        return xd / (1 + torch.exp(-xd))
    if act == "sigmoid":
        return torch.sigmoid(xd)
    return torch.tanh(xd)


@pytest.mark.parametrize("act", sorted(ULPS))
def test_exp_based_activation_within_its_ulp_bound(act):
    x = _inputs()
    out = _through_store(x, act).double()
    ref = _reference(x, act)
    assert torch.equal(out.isnan(), ref.isnan()), "NaN where eager has none, or none where it has one"
    both_inf = ref.isinf()
    assert torch.equal(out[both_inf], ref[both_inf])
    finite = ref.isfinite()
    big = finite & (ref.abs() >= TINY)
    ulps = ((out[big] - ref[big]).abs() / (ref[big].abs() * EPS)).max().item()
    assert ulps <= ULPS[act], f"{act}: {ulps:.2f} ulp"
    assert (out[finite & ~big] - ref[finite & ~big]).abs().max().item() <= TINY


def test_silu_signs_and_limits_as_eager():
    x = torch.tensor([-math.inf, -1e4, -100.0, -0.0, 0.0, 100.0, 1e4, math.inf] + [0.0] * 8)
    out = _through_store(x, "silu")[:8]
    eager = torch.nn.functional.silu(x)[:8]
    assert out[0].isnan() and eager[0].isnan()  # -Inf / Inf, as eager computes it
    torch.testing.assert_close(out[1:], eager[1:], rtol=0, atol=0)
    # -0 for large negative inputs, as eager (-0 itself comes out +0: the conv adds the zero bias)
    assert out[1:3].signbit().all() and eager[1:3].signbit().all()
