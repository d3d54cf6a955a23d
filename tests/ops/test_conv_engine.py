"""conv2d_bias_act and conv2d_bias_act_out on cnnfast's conv engine (csrc/conv_engine: implicit GEMM
on oneDNN's brgemm microkernel, epilogue in the tile loop) against the float64 reference: filters
1x1 to 11x11 and non-square, strides 1/2/4, padding, dilation, groups, odd channel counts, maps from
1x1 to 112x112, batch 1 and 3, residual, every activation, NaN/Inf, stores into a concat buffer's
channel slice with its neighbours untouched, and a property test over random geometry. The engine
is forced here (cnnfast.config.force_conv_path) so every case runs on it whatever the rule picks;
tests/ops/test_conv_route.py tests the rule."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import cnnfast
from cnnfast import config
from cnnfast.contracts.layout import conv_memory_format as output_memory_format
from cnnfast.reference import conv2d_bias_act as reference
from tests._helpers import TOLERANCE, rel_err

pytestmark = pytest.mark.skipif(not cnnfast.build_info()["conv_engine"],
                                reason="this torch or CPU has no fp32 brgemm microkernel")

ACTS = ["none", "relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid", "tanh"]

# (Cin, Cout, (R, S), stride, padding, dilation, groups, H, W)
CASES = [
    (3, 64, (7, 7), 2, 3, 1, 1, 112, 112),     # ResNet stem: 3 input channels, 112x112 map
    (17, 33, (3, 3), 1, 1, 1, 1, 9, 11),       # odd channels: a 48-wide padded block, 33 real
    (33, 17, (5, 5), 1, 2, 1, 1, 13, 7),       # 5x5, a one-vector block
    (16, 80, (1, 1), 1, 0, 1, 1, 14, 14),      # 1x1 stride 1: rows read in place; 64 + 16 wide
    (32, 48, (1, 1), 2, 0, 1, 1, 15, 15),      # 1x1 stride 2 (ResNet downsample) on an odd map
    (64, 64, (3, 3), 2, 1, 1, 1, 15, 16),      # 3x3 stride 2
    (24, 40, (3, 3), 1, 2, 2, 1, 10, 10),      # dilation 2
    (64, 128, (3, 3), 1, 1, 1, 32, 8, 8),      # ResNeXt's 32 groups of 2 -> 4
    (48, 96, (3, 3), 2, 1, 1, 4, 9, 9),        # groups with stride
    (8, 20, (11, 11), 4, 2, 1, 1, 31, 31),     # AlexNet's 11x11 stride 4
    (3, 5, (3, 3), 1, 1, 1, 1, 1, 1),          # a 1x1 map: all but the centre tap in padding
    (256, 130, (3, 3), 1, 1, 1, 1, 7, 7),      # long K, three blocks (64, 64, 16 wide)
    (17, 130, (1, 1), 1, 0, 1, 1, 3, 2),       # odd Cin, 1x1 in place
    (5, 7, (3, 3), 4, 0, 2, 1, 20, 17),        # stride 4 with dilation 2
    (40, 48, (1, 7), 1, (0, 3), 1, 1, 9, 9),   # Inception-v3's 1x7
    (40, 48, (7, 1), 1, (3, 0), 1, 1, 9, 9),   # and 7x1
    (32, 64, (3, 3), 1, 0, 1, 1, 5, 5),        # no padding: every tap in bounds
    # Output rows >= 28 pixels wide on >= 64 channels take the row-taps loop (input read in place):
    (64, 24, (3, 3), 1, 1, 1, 1, 6, 30),       # padding trims the border taps' M
    (64, 80, (5, 5), 2, 2, 1, 1, 5, 61),       # stride 2: pixels 2C apart; two blocks
    (72, 20, (3, 3), 1, 2, 2, 1, 4, 33),       # dilation 2
    (64, 16, (1, 7), 1, (0, 3), 1, 1, 3, 40),  # 1x7
    (65, 36, (3, 3), 1, 0, 1, 1, 5, 31),       # no padding
    # Column filters (R x 1, stride 1, no column padding) take runs of whole rows, one call per tap;
    # at batch 3 a thread's run of rows crosses images:
    (17, 33, (3, 1), 1, (1, 0), 1, 1, 8, 8),   # odd channels, Inception-v3's 3x1 on 8x8
    (128, 96, (7, 1), 1, (3, 0), 1, 1, 17, 17),  # Inception-v3's 7x1: two blocks (64 + 32)
    (40, 48, (7, 1), 1, (3, 0), 1, 1, 2, 5),   # fewer rows than taps: most taps wholly in padding
    (64, 130, (5, 1), 1, (4, 0), (2, 1), 1, 11, 6),  # dilation 2, padding past a tap's reach
    (24, 20, (3, 1), 1, 0, 1, 1, 9, 7),        # no padding
    # Row filters (1 x S) the same way on the transposed map, stored back through swapped strides:
    (17, 33, (1, 3), 1, (0, 1), 1, 1, 8, 8),   # odd channels, Inception-v3's 1x3 on 8x8
    (128, 96, (1, 7), 1, (0, 3), 1, 1, 17, 15),  # Inception-v3's 1x7, a non-square map
    (40, 48, (1, 7), 1, (0, 3), 1, 1, 5, 2),   # fewer columns than taps
    (64, 130, (1, 5), 1, (0, 4), (1, 2), 1, 6, 11),  # dilation 2 along the row
    # Strided filters with rows under 28 pixels on >= 64 channels run on their stride phases: each
    # tap a stride-1 shift of one phase, one call per tap over a run of phase rows:
    (96, 96, (3, 3), 2, 0, 1, 1, 17, 17),      # Inception-v3's grid reduction: odd map, no padding
    (128, 130, (3, 3), 2, 1, 1, 1, 14, 13),    # ResNet's 14 -> 7: three blocks, an odd width
    (64, 33, (5, 3), (2, 3), (2, 1), 1, 1, 11, 16),  # a stride and filter of their own per axis
    (80, 48, (3, 3), 2, 1, 2, 1, 12, 9),       # dilation 2: every tap reads row phase 0
    (64, 24, (7, 7), 4, 3, 1, 1, 23, 21),      # stride 4: 16 phases
    (72, 40, (3, 3), 2, 1, 1, 1, 3, 3),        # a 2x2 output
    (64, 16, (3, 3), 3, 4, 1, 1, 5, 5),        # padding past the filter: whole phase rows of zeros
    (64, 40, (3, 3), 2, 1, 1, 1, 45, 53),      # several runs of rows per thread, each copied anew
    # Tilings recut so the threads' shares come out even (tiling.cpp):
    (256, 64, (1, 1), 1, 0, 1, 1, 56, 56),     # 8 pixel tiles instead of 7
    (32, 1280, (1, 1), 1, 0, 1, 1, 3, 3),      # 20 blocks in 10 runs instead of 8
]


def _ids(case):
    cin, cout, (r, s), st_, p, d, g, h, w = case
    return f"{cin}to{cout}-k{r}x{s}-s{st_}-p{p}-d{d}-g{g}-{h}x{w}"


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _args(case, batch, residual, seed=0):
    cin, cout, (r, s), stride, padding, dilation, groups, h, w = case
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cin, h, w, generator=gen).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(cout, cin // groups, r, s, generator=gen) / (cin // groups * r * s) ** 0.5
    bias = torch.randn(cout, generator=gen)
    ho = (h + 2 * _pair(padding)[0] - _pair(dilation)[0] * (r - 1) - 1) // _pair(stride)[0] + 1
    wo = (w + 2 * _pair(padding)[1] - _pair(dilation)[1] * (s - 1) - 1) // _pair(stride)[1] + 1
    res = (torch.randn(batch, cout, ho, wo, generator=gen).contiguous(memory_format=torch.channels_last)
           if residual else None)
    return x, weight, bias, _pair(stride), _pair(padding), _pair(dilation), groups, res


def _reference(x, weight, bias, stride, padding, dilation, groups, res, act):
    return reference(x.double(), weight.double(), None if bias is None else bias.double(), stride, padding,
                     dilation, groups, None if res is None else res.double(), act)


def _check(args, act):
    x, weight, bias, stride, padding, dilation, groups, res = args
    # A 1x1 map is both layouts at once, and then the op keeps NCHW (the engine still runs a 1x1
    # filter there: on one pixel the layouts coincide); otherwise the input is channels_last.
    layout = output_memory_format(x)
    nhwc = layout == torch.channels_last
    path = config.conv_path_for(x.shape, weight.shape, stride, padding, dilation, groups, channels_last=nhwc)
    assert path == "engine" or not nhwc
    out = cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, res, act)
    ref = _reference(x, weight, bias, stride, padding, dilation, groups, res, act)
    assert out.shape == ref.shape
    assert out.is_contiguous(memory_format=layout)
    err = rel_err(out, ref)
    assert err <= TOLERANCE[torch.float32], f"relative error {err:.2e}"
    return out, ref


@pytest.fixture(autouse=True)
def _on_the_engine():
    with config.force_conv_path("engine"):
        yield


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_matches_reference(case, batch, residual, kernel_level):
    if batch > 1 and case[7] >= 100:
        batch = 2  # the 112x112 stem: keep the test quick
    _check(_args(case, batch, residual), "relu")


COLUMN = CASES[23]  # Inception-v3's 7x1: the column-taps loop
ROW = CASES[28]  # its 1x7: the column-taps loop on the transposed map
PHASES = CASES[32]  # ResNet's 3x3 stride 2 on its stride phases


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", [CASES[1], CASES[3], CASES[7], CASES[11], CASES[17], COLUMN, ROW, PHASES], ids=_ids)
def test_every_activation(case, act, kernel_level):
    _check(_args(case, 2, residual=True, seed=1), act)


def test_no_bias():
    x, weight, _, stride, padding, dilation, groups, res = _args(CASES[1], 2, True)
    _check((x, weight, None, stride, padding, dilation, groups, res), "none")


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("case", [CASES[1], CASES[3], CASES[17], COLUMN, ROW, PHASES], ids=_ids)
def test_nan_and_inf_land_where_eager_puts_them(case, act, kernel_level):
    x, weight, bias, stride, padding, dilation, groups, _ = _args(case, 2, False, seed=2)
    x = x.clone()
    x[0, 3, 2, 4] = float("nan")
    x[1, 5, 1, 1] = float("inf")
    x[1, 0, 3, 3] = float("-inf")
    out = cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, None, act)
    ref = _reference(x, weight, bias, stride, padding, dilation, groups, None, act).float()
    assert torch.equal(out.isnan(), ref.isnan()), act
    assert torch.equal(out.isinf(), ref.isinf()), act
    assert torch.equal(out[out.isinf()], ref[ref.isinf()]), act
    finite = ref.isfinite()
    assert rel_err(out[finite], ref[finite]) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("act", ["relu", "silu", "sigmoid", "tanh", "hardswish"])
def test_extreme_values_through_the_epilogue(act):
    # Pre-activations from -1e4 to 1e4 and +-Inf straight into the vector exp's clamps.
    x = torch.tensor([-1e4, -90.0, -88.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 88.0, 90.0, 1e4,
                      float("inf"), float("-inf"), float("nan"), 3.0, -3.0])
    x = x.view(1, 16, 1, 1).contiguous(memory_format=torch.channels_last).repeat(1, 1, 3, 3)
    x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.eye(16).view(16, 16, 1, 1)  # identity 1x1 conv: the epilogue sees x itself
    out = cnnfast.ops.conv2d_bias_act(x, weight, None, 1, 0, 1, 1, None, act)
    ref = _reference(x, weight, None, (1, 1), (0, 0), (1, 1), 1, None, act).float()
    torch.testing.assert_close(out, ref, rtol=2e-6, atol=1e-30, equal_nan=True)


@pytest.mark.parametrize("case", [CASES[1], CASES[3], CASES[7], CASES[12], CASES[18], COLUMN, ROW, PHASES], ids=_ids)
@pytest.mark.parametrize("residual", [False, True])
def test_out_writes_a_concat_slice_in_place(case, residual):
    check_concat_slice(_args(case, 2, residual, seed=3))


def check_concat_slice(args):
    """conv2d_bias_act_out into channels 13.. of a wider channels_last buffer: the slice matches
    the reference and the channels on either side keep their values."""
    x, weight, bias, stride, padding, dilation, groups, res = args
    ref = _reference(x, weight, bias, stride, padding, dilation, groups, res, "relu").float()
    n, k, ho, wo = ref.shape
    buf = torch.full((n, k + 21, ho, wo), 7.0).contiguous(memory_format=torch.channels_last)
    before = buf.clone()
    cnnfast.ops.conv2d_bias_act_out(x, weight, bias, stride, padding, dilation, groups, res, "relu",
                                    out=buf[:, 13:13 + k])
    assert rel_err(buf[:, 13:13 + k], ref) <= TOLERANCE[torch.float32]
    assert torch.equal(buf[:, :13], before[:, :13]) and torch.equal(buf[:, 13 + k:], before[:, 13 + k:])


def test_repacks_a_changed_weight():
    x, weight, bias, stride, padding, dilation, groups, res = _args(CASES[1], 1, False)
    _check((x, weight, bias, stride, padding, dilation, groups, res), "none")
    with torch.no_grad():
        weight.mul_(-2.0)  # in place: bumps the version counter, so the cached pack is stale
    _check((x, weight, bias, stride, padding, dilation, groups, res), "none")


@st.composite
def geometries(draw):
    groups = draw(st.sampled_from([1, 1, 1, 2, 4]))
    cin = groups * draw(st.one_of(st.integers(1, 24), st.integers(64, 72)))  # >= 64: row taps
    cout = groups * draw(st.integers(1, 40))
    r, s = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    padding = (draw(st.integers(0, r // 2 * dilation)), draw(st.integers(0, s // 2 * dilation)))
    h = draw(st.integers(max(1, (r - 1) * dilation + 1 - 2 * padding[0]), 12))
    w = draw(st.integers(max(1, (s - 1) * dilation + 1 - 2 * padding[1]), 70))  # >= 28 wide: row taps
    return (cin, cout, (r, s), stride, padding, dilation, groups, h, w), draw(st.integers(1, 3)), draw(st.booleans())


@given(geometries(), st.sampled_from(ACTS), st.integers(0, 2**31 - 1))
def test_property_random_geometry(geometry, act, seed):
    case, batch, residual = geometry
    with config.force_conv_path("engine"):  # hypothesis runs outside the fixture's block too
        _check(_args(case, batch, residual, seed), act)
