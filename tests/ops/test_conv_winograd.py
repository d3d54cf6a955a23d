"""The conv engine's Winograd F(2x2, 3x3) form (csrc/conv_engine/winograd*.{h,cpp}) against the
float64 reference: 3x3 stride-1 convs with padding 0 and 1, odd output channel counts (blocks of
64, 64, 2), maps from 1x1 to 58x58 with odd sizes (partial 2x2 tiles at the right and bottom),
batch 1 and 3, residual, every activation, NaN/Inf, stores into a concat buffer's channel slice
with its neighbours untouched, 1-3 threads (both ways the tasks split: over tiles, over
output-channel blocks), and a property test. The form is forced here
(cnnfast.config.force_conv_path); tests/ops/test_conv_route.py tests where the rule takes it.

fp32 tolerance: the transforms multiply by 0, +-1 and 1/2 only; on these cases the error against
float64 is 1e-7 - 1e-6 of the output's largest magnitude, the same order as the direct sum's."""

import contextlib

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnnfast
from cnnfast import config
from tests._helpers import TOLERANCE, rel_err
from tests.ops.test_conv_engine import ACTS, _args, _reference, check_concat_slice

pytestmark = pytest.mark.skipif(not cnnfast.build_info()["conv_engine"],
                                reason="this torch or CPU has no fp32 brgemm microkernel")

# (Cin, Cout, (R, S), stride, padding, dilation, groups, H, W)
CASES = [
    (64, 64, (3, 3), 1, 1, 1, 1, 14, 14),      # ResNet's 3x3 shape, one image's tiles fit one task
    (16, 17, (3, 3), 1, 1, 1, 1, 7, 9),        # one-vector input, 17 outputs: a 32-wide padded block
    (32, 130, (3, 3), 1, 1, 1, 1, 5, 5),       # three blocks (64, 64, 16 wide), 3x3 tiles, odd map
    (48, 40, (3, 3), 1, 0, 1, 1, 9, 6),        # no padding: 7x4 output, half a tile at the bottom
    (16, 24, (3, 3), 1, 1, 1, 1, 1, 1),        # a 1x1 map: one tile, eight of its inputs padding
    (32, 16, (3, 3), 1, 1, 1, 1, 2, 3),        # 2x3: a half tile at the right
    (256, 80, (3, 3), 1, 1, 1, 1, 23, 21),     # 12x11 tiles in several runs (V at half of L2)
    (64, 96, (3, 3), 1, 1, 1, 1, 58, 58),      # a large map: many runs of tiles
    (512, 64, (3, 3), 1, 1, 1, 1, 7, 7),       # long K: 512 input channels per call
]


def _ids(case):
    cin, cout, _, _, p, _, _, h, w = case
    return f"{cin}to{cout}-p{p}-{h}x{w}"


def _check(args, act):
    x, weight, bias, stride, padding, dilation, groups, res = args
    assert config.conv_path_for(x.shape, weight.shape, stride, padding, dilation, groups) == "winograd"
    out = cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, res, act)
    ref = _reference(x, weight, bias, stride, padding, dilation, groups, res, act)
    assert out.shape == ref.shape and out.is_contiguous(memory_format=torch.channels_last)
    err = rel_err(out, ref)
    assert err <= TOLERANCE[torch.float32], f"relative error {err:.2e}"
    return out


@contextlib.contextmanager
def _threads(n):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _on_winograd():
    with config.force_conv_path("winograd"):
        yield


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_reference(case, batch, residual, kernel_level):
    _check(_args(case, batch, residual), "relu")


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[6], CASES[8]], ids=_ids)
def test_every_task_split(case, threads):
    # Batch 1 on a small map: the threads split output-channel blocks; larger: runs of tiles.
    with _threads(threads):
        for batch in (1, 2):
            _check(_args(case, batch, residual=True, seed=4), "relu")


@pytest.mark.parametrize("act", ACTS)
def test_every_activation(act):
    _check(_args(CASES[2], 2, residual=True, seed=1), act)


def test_no_bias():
    x, weight, _, stride, padding, dilation, groups, res = _args(CASES[1], 2, True)
    _check((x, weight, None, stride, padding, dilation, groups, res), "none")


def _assert_eager_non_finite(out, ref):
    assert torch.equal(out.isnan(), ref.isnan())
    assert torch.equal(out.isinf(), ref.isinf())
    assert torch.equal(out[out.isinf()], ref[ref.isinf()])
    finite = ref.isfinite()
    assert rel_err(out[finite], ref[finite]) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("act", ACTS)
def test_nan_and_inf_land_where_eager_puts_them(act, threads, kernel_level):
    # Transformed, a NaN or Inf would spread over its whole 2x2 tile (winograd.h): the form
    # hands such an input to the direct loops, so the result keeps eager's pattern exactly.
    x, weight, bias, stride, padding, dilation, groups, _ = _args(CASES[0], 2, False, seed=2)
    x = x.clone()
    x[0, 3, 2, 4] = float("nan")
    x[1, 5, 1, 1] = float("inf")
    x[1, 0, 13, 13] = float("-inf")
    with _threads(threads):
        out = cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, None, act)
    _assert_eager_non_finite(out, _reference(x, weight, bias, stride, padding, dilation, groups, None, act).float())


def test_a_non_finite_weight_keeps_eager_semantics():
    x, weight, bias, stride, padding, dilation, groups, _ = _args(CASES[1], 2, False, seed=5)
    weight = weight.clone()
    weight[3, 2, 0, 1] = float("inf")
    weight[7, 0, 2, 2] = float("nan")
    out = cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, None, "none")
    _assert_eager_non_finite(out, _reference(x, weight, bias, stride, padding, dilation, groups, None, "none").float())


def test_a_residual_that_is_the_output():
    # out += conv(x) in place: the form cannot recompute after reading a residual it has
    # overwritten, so it leaves that call to the direct loops; the sum is still right.
    x, weight, bias, stride, padding, dilation, groups, res = _args(CASES[0], 2, True, seed=6)
    ref = _reference(x, weight, bias, stride, padding, dilation, groups, res, "relu").float()
    out = res.clone()
    cnnfast.ops.conv2d_bias_act_out(x, weight, bias, stride, padding, dilation, groups, out, "relu", out=out)
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[3]], ids=_ids)
@pytest.mark.parametrize("residual", [False, True])
def test_out_writes_a_concat_slice_in_place(case, residual):
    check_concat_slice(_args(case, 2, residual, seed=3))


def test_repacks_a_changed_weight():
    x, weight, bias, stride, padding, dilation, groups, res = _args(CASES[1], 1, False)
    _check((x, weight, bias, stride, padding, dilation, groups, res), "none")
    with torch.no_grad():
        weight.mul_(-2.0)  # in place: bumps the version counter, so the cached transform is stale
    _check((x, weight, bias, stride, padding, dilation, groups, res), "none")


def test_geometry_it_cannot_take_runs_elsewhere():
    # Forced, the form is taken only where its transforms apply; the rest runs on the rule's path.
    for shape, kw in [((1, 16, 8, 8), dict(stride=(2, 2), padding=(1, 1))),    # stride 2
                      ((1, 16, 8, 8), dict(dilation=(2, 2), padding=(2, 2))),  # dilation
                      ((1, 16, 8, 8), dict(padding=(2, 2))),                   # padding 2
                      ((1, 24, 8, 8), dict(padding=(1, 1)))]:                  # 24 channels: not whole vectors
        assert config.conv_path_for(shape, (16, shape[1], 3, 3), **kw) != "winograd"
    assert config.conv_path_for((1, 16, 8, 8), (16, 16, 5, 5), padding=(2, 2)) != "winograd"
    assert config.conv_path_for((1, 16, 8, 8), (16, 8, 3, 3), padding=(1, 1), groups=2) != "winograd"


@st.composite
def geometries(draw):
    cin = 16 * draw(st.integers(1, 5))
    cout = draw(st.integers(1, 140))
    padding = draw(st.integers(0, 1))
    h = draw(st.integers(3 - 2 * padding, 20))
    w = draw(st.integers(3 - 2 * padding, 20))
    return (cin, cout, (3, 3), 1, padding, 1, 1, h, w), draw(st.integers(1, 3)), draw(st.booleans())


@given(geometries(), st.sampled_from(ACTS), st.integers(0, 2**31 - 1))
def test_property_random_geometry(geometry, act, seed):
    case, batch, residual = geometry
    with config.force_conv_path("winograd"):  # hypothesis runs outside the fixture's block too
        _check(_args(case, batch, residual, seed), act)
