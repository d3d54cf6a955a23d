"""conv2d_bias_act's direct grouped kernel (csrc/ops/conv2d_bias_act/grouped_conv_cpu.cpp:
channels_last fp32, as many output as input channels per group, a group width that divides 16 or
is a multiple of it) against the float64 reference: the narrow groups (2, 4, 8 channels, lanes
interleaved, blocks of 14 or 7 pixels, with AVX2 two 8-lane halves over 7; 3-wide rows at stride 1
and 2 sharing broadcasts between taps, any other filter per tap; each level's build) and the
broadcast wide ones (16-64: blocks of 14 or 7 pixels, rows split into channel chunks at batch 1), RegNet's channel counts off the 16-lane grid (104, 440),
stride, padding, dilation, 5x5 and rectangular filters, residual, every activation, batches,
a NaN that must stay inside its own group, and a property test over random shapes."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

import cnnfast
from cnnfast import config
from tests._helpers import grouped_kernel_runs, skip_unless_grouped_kernel_runs
from tests.ops.direct_conv_checks import check_nan_and_inf, check_on, check_weight_change_is_seen

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")

ACTS = ["none", "relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid", "tanh"]

# (C, groups, H, W, (kh, kw), stride, padding, dilation)
CASES = [
    (104, 13, 15, 17, (3, 3), (1, 1), (1, 1), (1, 1)),  # RegNetY: 8-channel groups, C off the grid
    (208, 26, 14, 14, (3, 3), (2, 2), (1, 1), (1, 1)),  # RegNetY's stride-2 block
    (48, 6, 23, 21, (3, 3), (2, 2), (1, 1), (1, 1)),    # RegNetY's first stage, odd map
    (128, 32, 12, 11, (3, 3), (1, 1), (1, 1), (1, 1)),  # ResNeXt-50 stage 1: 4-channel groups
    (32, 16, 9, 10, (3, 3), (1, 1), (1, 1), (1, 1)),    # 2-channel groups
    (64, 4, 9, 9, (3, 3), (1, 1), (1, 1), (1, 1)),      # 16-channel groups: broadcast form
    (128, 4, 8, 7, (3, 3), (2, 2), (1, 1), (1, 1)),     # 32-channel groups, two vectors per group
    (40, 5, 11, 13, (5, 5), (1, 1), (2, 2), (1, 1)),    # 5x5, C off the grid
    (64, 8, 13, 12, (3, 5), (1, 2), (2, 1), (2, 1)),    # rectangular, mixed stride, dilation
    (64, 16, 10, 10, (3, 3), (1, 1), (2, 2), (2, 2)),   # dilated 3x3: the per-tap form
    (32, 8, 11, 9, (3, 3), (2, 2), (1, 1), (1, 1)),     # 4-channel groups at stride 2 (row form)
    (24, 3, 5, 6, (3, 3), (1, 1), (3, 3), (1, 1)),      # padding larger than the map's edge
    (16, 2, 1, 1, (1, 1), (1, 1), (0, 0), (1, 1)),      # 1x1 grouped conv on a 1x1 map
    # Wide groups: blocks of 14 or 7 pixels, rows split into channel chunks when few.
    (512, 32, 14, 14, (3, 3), (1, 1), (1, 1), (1, 1)),  # ResNeXt-50 stage 3: 14-pixel blocks, chunks
    (1024, 32, 7, 7, (3, 3), (1, 1), (1, 1), (1, 1)),   # ResNeXt-50 stage 4: 7-pixel blocks, 2 vectors
    (256, 8, 14, 14, (3, 3), (2, 2), (1, 1), (1, 1)),   # 32 channels at stride 2 onto 7x7
    (96, 3, 9, 13, (3, 3), (1, 1), (1, 1), (1, 1)),     # 32 channels, 13 wide: a block's last pixel empty
    (128, 2, 6, 17, (3, 3), (1, 1), (1, 1), (1, 1)),    # 64-channel groups: 4 vectors x 7 pixels
    (144, 3, 5, 8, (3, 3), (1, 1), (1, 1), (1, 1)),     # 48-channel groups: 3 vectors
    (64, 4, 30, 29, (3, 3), (1, 1), (1, 1), (1, 1)),    # 16 channels over three 14-pixel blocks
    # Narrow groups again: the pixel blocks each group width has not had above.
    (48, 24, 7, 7, (3, 3), (1, 1), (1, 1), (1, 1)),     # 2-channel groups, 7-pixel blocks
    (64, 16, 30, 31, (3, 3), (1, 1), (1, 1), (1, 1)),   # 4-channel groups, 14-pixel blocks and a tail
]


def _args(case, batch, residual, seed=0):
    c, groups, h, w, ks, s, p, d = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c, h, w, generator=g).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(c, c // groups, *ks, generator=g) / (c // groups * ks[0] * ks[1]) ** 0.5
    bias = torch.randn(c, generator=g)
    oh = (h + 2 * p[0] - d[0] * (ks[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (ks[1] - 1) - 1) // s[1] + 1
    res = torch.randn(batch, c, oh, ow, generator=g).contiguous(memory_format=torch.channels_last) if residual else None
    return x, weight, bias, s, p, d, groups, res


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"c{c[0]}g{c[1]}-{c[2]}x{c[3]}-k{c[4][0]}x{c[4][1]}-s{c[5][0]}{c[5][1]}")
def test_matches_reference(case, batch, residual):
    skip_unless_grouped_kernel_runs(case[0], case[1])
    check_on("grouped", _args(case, batch, residual), "relu")


# The narrow groups' cases, for the loop's build at each x86-64 level (AVX-512: 16-lane vectors
# over 14 or 7 pixels; AVX2: two 8-lane halves over 7; none below, where oneDNN takes them).
NARROW = [case for case in CASES if case[0] // case[1] < 16]


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("case", NARROW, ids=lambda c: f"c{c[0]}g{c[1]}-{c[2]}x{c[3]}-k{c[4][0]}x{c[4][1]}-s{c[5][0]}{c[5][1]}")
def test_narrow_groups_on_every_level(case, batch, residual, kernel_level):
    skip_unless_grouped_kernel_runs(case[0], case[1])
    check_on("grouped", _args(case, batch, residual), "silu")


@pytest.mark.parametrize("case", [CASES[0], CASES[13]], ids=["gw8", "gw16"])
@pytest.mark.parametrize("act", ACTS)
def test_every_activation(act, case):
    skip_unless_grouped_kernel_runs(case[0], case[1])
    check_on("grouped", _args(case, 2, residual=True), act)


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[6], CASES[14]], ids=["gw8", "gw4", "gw32", "gw32-7x7"])
def test_nan_and_inf_propagate_as_in_eager(case, kernel_level):
    skip_unless_grouped_kernel_runs(case[0], case[1])
    x, weight, bias, s, p, d, g, _ = _args(case, 1, False)
    with config.force_conv_path("grouped"):
        check_nan_and_inf(x, weight, bias, s, p, d, g, (0, 9, 5, 5), (0, 2, 0, 0))


def test_a_nan_stays_in_its_group(kernel_level):
    # Narrow groups share a vector with their neighbours: lanes of other groups must never meet it
    # (a zero weight times NaN is NaN).
    skip_unless_grouped_kernel_runs(CASES[0][0], CASES[0][1])
    x, weight, bias, s, p, d, g, _ = _args(CASES[0], 1, False)
    x[0, 9, 5, 5] = float("nan")  # channel 9: group 1 (channels 8-15)
    with config.force_conv_path("grouped"):
        out = cnnfast.ops.conv2d_bias_act(x, weight, bias, s, p, d, g, None, "none")
    assert out[0, 8:16].isnan().any()
    assert not out[0, :8].isnan().any() and not out[0, 16:].isnan().any()


@pytest.mark.parametrize("case", [CASES[0], CASES[13]], ids=["gw8", "gw16"])
def test_weight_change_is_seen(case):
    skip_unless_grouped_kernel_runs(case[0], case[1])
    x, weight, bias, s, p, d, g, _ = _args(case, 1, False)
    check_weight_change_is_seen("grouped", x, weight, s, p, d, g)


def test_what_it_does_not_take():
    with config.force_conv_path("grouped"):
        assert config.conv_path_for((1, 32, 8, 8), (32, 1, 3, 3), 1, 1, 1, 32) != "grouped"  # depthwise
        assert config.conv_path_for((1, 48, 8, 8), (48, 12, 3, 3), 1, 1, 1, 4) != "grouped"  # 12 per group
        assert config.conv_path_for((1, 32, 8, 8), (64, 8, 3, 3), 1, 1, 1, 4) != "grouped"  # 8 in, 16 out per group
        assert config.conv_path_for((1, 32, 8, 8), (32, 32, 3, 3), 1, 1, 1, 1) != "grouped"  # one group


@given(gw=st.sampled_from([2, 4, 8, 16, 32, 48, 64]), groups=st.integers(1, 5), batch=st.integers(1, 2),
       h=st.integers(1, 12), w=st.integers(1, 30), k=st.sampled_from([(1, 1), (3, 3), (5, 5), (1, 3)]),
       stride=st.integers(1, 3), padding=st.integers(0, 2), dilation=st.integers(1, 2),
       residual=st.booleans(), seed=st.integers(0, 2**16))
@settings(deadline=None, max_examples=60)
def test_random_shapes_match_reference(gw, groups, batch, h, w, k, stride, padding, dilation, residual, seed):
    groups += 1  # at least two groups
    if not grouped_kernel_runs(gw * groups, groups):
        return  # no build of the narrow grouped loop at this level
    c = gw * groups
    if h + 2 * padding < dilation * (k[0] - 1) + 1 or w + 2 * padding < dilation * (k[1] - 1) + 1:
        return  # no output pixel
    case = (c, groups, h, w, k, (stride, stride), (padding, padding), (dilation, dilation))
    check_on("grouped", _args(case, batch, residual, seed), "relu")
