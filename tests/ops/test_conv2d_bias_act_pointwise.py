"""conv2d_bias_act's direct 1x1 kernel (csrc/ops/conv2d_bias_act/pointwise_conv_cpu.cpp: channels_last
fp32, 1x1, stride 1, one group; up to 32M multiply-adds, or 160M while the weight fits L2) against
the float64 reference, over the
shapes that take each of its code paths: full register blocks of 4-8 pixels and 1-4 pixel
remainders, 64-channel panels and narrower last panels (1-3 vectors, channel counts off the 16-lane grid), one input
channel, residual, every activation, batches, NaN/Inf, a packed weight that must be repacked, 
small maps under large weights, whose output channels the threads split, and larger maps under
weights over half of L2 (or, on Intel cores, over a quarter of L1), taken in tiles of pixels. Each
on the kernel's build for every x86-64 level this CPU runs (kernel_level, tests/conftest.py): 16
output channels x 4-8 pixels per register block with AVX-512, 16 x 6 with AVX2 (two 8-lane
vectors), 16 x 2 below."""

import pytest
import torch

import cnnfast
from cnnfast import config
from cnnfast.reference import conv2d_bias_act as reference
from tests._helpers import TOLERANCE, rel_err
from tests.ops.direct_conv_checks import check, check_nan_and_inf, check_on

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")

ACTS = ["none", "relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid", "tanh"]

# (Cin, Cout, H, W)
CASES = [
    (40, 120, 28, 28),   # MobileNetV3: one full panel + a 56-channel (4-vector) tail panel
    (72, 24, 7, 9),      # 63 pixels: 15 blocks of 4 + 3; a 2-vector panel
    (116, 116, 5, 5),    # ShuffleNet-like, 25 pixels: 6 blocks + 1
    (17, 130, 3, 2),     # odd Cin; 130 = 2 panels + a 1-vector tail; 6 pixels: 4 + 2
    (1, 5, 4, 4),        # one input channel, five outputs
    (960, 160, 7, 7),    # long Cin
    (3, 64, 11, 13),     # exactly one panel
    (64, 48, 2, 3),      # a 3-vector panel, 6 pixels
    # Register blocks sized by the run's vectors (8 pixels for one or two vectors, 6 for three),
    # one narrow panel's chunks of as many pixels, and the 4/2/1-pixel remainders:
    (16, 16, 5, 7),      # one vector, 35 pixels: 4 blocks of 8 + 2 + 1
    (24, 24, 9, 11),     # two vectors, the second half full; 99 pixels: 12 blocks of 8 + 2 + 1
    (33, 40, 3, 9),      # three vectors, 27 pixels: 4 blocks of 6 + 2 + 1
    (20, 72, 5, 3),      # a full panel and a one-vector panel, 15 pixels: chunks of 4, 3 = 2 + 1
    # Weights over 1 MB (more than half of L2 on the machines this runs on): tiles of pixels
    # through every panel, each tile's last pixel spilling into the next tile's first.
    (1024, 264, 23, 21),  # 17 vectors (a 5-vector last panel), tiles of L2 / 16 KB pixels
    (576, 520, 16, 17),   # 520 channels: a whole-vector store past each pixel's last channel
]


def _args(case, batch, residual, seed=0):
    cin, cout, h, w = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cin, h, w, generator=g).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(cout, cin, 1, 1, generator=g) / cin ** 0.5
    bias = torch.randn(cout, generator=g)
    res = torch.randn(batch, cout, h, w, generator=g).contiguous(memory_format=torch.channels_last) if residual else None
    return x, weight, bias, res


def _check(args, act):
    x, weight, bias, res = args
    return check(x, weight, bias, (1, 1), (0, 0), (1, 1), 1, res, act)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}to{c[1]}-{c[2]}x{c[3]}")
def test_matches_reference(case, batch, residual, kernel_level):
    _check(_args(case, batch, residual), "relu")


@pytest.mark.parametrize("act", ACTS)
def test_every_activation(act, kernel_level):
    _check(_args(CASES[3], 2, residual=True), act)


def test_no_bias():
    x, weight, _, _ = _args(CASES[0], 2, False)
    out = cnnfast.ops.conv2d_bias_act(x, weight, None, 1, 0, 1, 1, None, "relu")
    ref = reference(x.double(), weight.double(), None, (1, 1), (0, 0), (1, 1), 1, None, "relu")
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


def test_nan_and_inf_propagate_as_in_eager(kernel_level):
    x, weight, bias, _ = _args(CASES[1], 1, False)
    check_nan_and_inf(x, weight, bias, (1, 1), (0, 0), (1, 1), 1, (0, 3, 2, 5), (0, 7, 0, 0))


def test_channel_slice_input():
    # A channel slice of a channels_last buffer (ShuffleNet's branches read one) is copied dense first.
    big = torch.randn(2, 80, 6, 6).contiguous(memory_format=torch.channels_last)
    x = big[:, 10:50]
    weight, bias = torch.randn(24, 40, 1, 1), torch.randn(24)
    out = cnnfast.ops.conv2d_bias_act(x, weight, bias, 1, 0, 1, 1, None, "relu")
    ref = reference(x.double(), weight.double(), bias.double(), (1, 1), (0, 0), (1, 1), 1, None, "relu")
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


def test_weight_change_is_seen():
    # The packed weight is cached per weight tensor; an in-place update must repack it.
    x, weight, bias, _ = _args(CASES[0], 1, False)
    first = cnnfast.ops.conv2d_bias_act(x, weight, bias, 1, 0, 1, 1, None, "none")
    weight.mul_(2)
    second = cnnfast.ops.conv2d_bias_act(x, weight, bias, 1, 0, 1, 1, None, "none")
    assert rel_err(second - bias.view(1, -1, 1, 1), 2 * (first - bias.view(1, -1, 1, 1))) <= 1e-6


# (Cin, Cout, H, W, batch) whose weight outweighs the pixels' inputs and outputs: the threads split
# the output channels (runs of vectors that start and end inside 64-channel panels) instead of
# the pixels.
CHANNEL_SPLIT_CASES = [
    (256, 200, 2, 2, 3),  # 13 vectors (panels of 4, 4 and 5): runs of 7 / 6 on 2 threads, 5 / 5 / 3 on 3,
                          # 3 each on 5 (the last, vector 12, alone inside the 5-vector panel); 8 real in the last
    (160, 960, 7, 7, 1),  # MobileNetV3's expand on 7x7
    (96, 120, 1, 3, 1),   # 3 pixels, a 56-channel last panel
    # Panels past 1.25x L1 go through the weight's rows in chunks, partial sums kept per pixel:
    (440, 440, 7, 7, 1),  # RegNetY's 440 -> 440 on 7x7: 6 chunks of 70-74 rows with a 48 KB L1
    (330, 72, 3, 3, 2),   # 5 vectors in one panel, 72 real; Cin not a multiple of the chunk
]


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("case", CHANNEL_SPLIT_CASES, ids=lambda c: f"{c[0]}to{c[1]}-{c[2]}x{c[3]}-b{c[4]}")
def test_threads_splitting_the_channels(case, residual, threads, kernel_level):
    cin, cout, h, w, batch = case
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _check(_args((cin, cout, h, w), batch, residual), "hardswish")
    finally:
        torch.set_num_threads(before)


# (Cin, Cout, H, W, batch) whose packed weight outgrows a quarter of L1 (32-48 KB on the machines
# this runs on) but not half of L2. On Intel cores the kernel takes them in tiles of pixels, each
# panel over the whole tile before the next, fetching the next block's residual ahead; on AMD's,
# every panel per block of 4 (pointwise_conv_cpu.cpp, tile_pixels). Both rules run on any machine.
TILE_CASES = [
    (64, 256, 23, 19, 2),  # ResNet-50's expansion: 874 pixels, full tiles and a short last one, 4 panels
    (128, 520, 9, 11, 2),  # 8 panels, the last of 5 vectors with 8 real channels: stores spill into the next pixel
    (96, 72, 13, 7, 3),    # one 5-vector panel, 72 real channels
    (112, 40, 5, 5, 2),    # 3 vectors: blocks of 6 pixels, 50 = 8 x 6 + 2
]


@pytest.mark.parametrize("cpu", ["intel", "amd"])
@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("case", TILE_CASES, ids=lambda c: f"{c[0]}to{c[1]}-{c[2]}x{c[3]}-b{c[4]}")
def test_weights_past_l1_in_tiles_of_pixels(case, residual, cpu, kernel_level):
    cin, cout, h, w, batch = case
    args = _args((cin, cout, h, w), batch, residual)
    with config.route_as(cpu):
        check_on("pointwise", (*args[:3], (1, 1), (0, 0), (1, 1), 1, args[3]), "relu")


@pytest.mark.parametrize("cpu", ["intel", "amd"])
def test_tiles_store_over_their_residual_and_into_slices(cpu, kernel_level):
    # optimize() lets a conv store over its residual (reuse_residual_buffer): every residual value is
    # read, prefetched or not, before its pixel is stored. Into a concat slice, the neighbours stay.
    x, weight, bias, res = _args((64, 72, 21, 17), 2, residual=True)
    ref = reference(x.double(), weight.double(), bias.double(), (1, 1), (0, 0), (1, 1), 1, res.double(), "relu")
    buf = torch.full((2, 8 + 72 + 5, 21, 17), 7.0).contiguous(memory_format=torch.channels_last)
    with config.route_as(cpu), config.force_conv_path("pointwise"):
        out = res.clone()
        cnnfast.ops.conv2d_bias_act_out(x, weight, bias, 1, 0, 1, 1, out, "relu", out=out)
        cnnfast.ops.conv2d_bias_act_out(x, weight, bias, 1, 0, 1, 1, res, "relu", out=buf[:, 8:80])
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]
    assert rel_err(buf[:, 8:80], ref) <= TOLERANCE[torch.float32]
    assert (buf[:, :8] == 7).all() and (buf[:, 80:] == 7).all()


def _ran_onednn(args):
    x, weight, bias, res = args
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        cnnfast.ops.conv2d_bias_act(x, weight, bias, 1, 0, 1, 1, res, "relu")
    return any(e.name.startswith("mkldnn::") for e in prof.events())


# (Cin, Cout, H, W, batch): above 32M multiply-adds with a weight that stays in L2 (<= 128K floats,
# >= 24 output channels), where the direct kernel was measured faster than oneDNN plus its
# separate NaN-safe ReLU pass.
L2_CASES = [
    (16, 64, 112, 112, 8),   # MobileNetV3's first expand at batch 8: 103M
    (232, 232, 14, 14, 8),   # ShuffleNet stage 3 at batch 8: 84M, 54K-float weight
    (512, 250, 17, 17, 3),   # 111M, a 128000-float weight (the bound), a 58-channel tail panel
]


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("case", L2_CASES, ids=lambda c: f"{c[0]}to{c[1]}-{c[2]}x{c[3]}-b{c[4]}")
def test_large_maps_with_l2_resident_weight(case, residual):
    cin, cout, h, w, batch = case
    args = _args((cin, cout, h, w), batch, residual)
    assert not _ran_onednn(args)
    _check(args, "relu")


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("case", [
    (64, 256, 56, 56, 8),    # ResNet-50's expansion at batch 8 (411M multiply-adds): 0.81-0.93x the engine
    (1024, 512, 14, 14, 8),  # a 2 MB weight over 1568 pixels
    (32, 16, 112, 112, 8),   # 16 output channels: 0.71x the engine all the same
    (768, 576, 17, 17, 1),   # Inception-v3's 17x17 at batch 1 (289 pixels)
])
def test_many_pixels_take_the_direct_kernel_whatever_the_weight(case, residual):
    # The rule as on AMD's cores; Intel's gives the engine the wide ones (test_conv_route.py).
    cin, cout, h, w, batch = case
    args = _args((cin, cout, h, w), batch, residual)
    assert config.conv_path_for((batch, cin, h, w), (cout, cin, 1, 1), cpu="amd") == "pointwise"
    with config.route_as("amd"):
        _check(args, "relu")


@pytest.mark.parametrize("case", [
    (256, 1024, 14, 14, 1),  # ResNet-50's 1 MB weight over 196 pixels: the engine is faster
    (2048, 512, 7, 7, 1),    # 4 MB over 49 pixels: 1.07-1.12x on the direct kernel
])
def test_leaves_the_direct_kernel_where_it_is_slower(case):
    # These go to the conv engine (oneDNN where the engine is not available): see test_conv_route.py.
    cin, cout, h, w, batch = case
    args = _args((cin, cout, h, w), batch, residual=False)
    expected = "engine" if cnnfast.build_info()["conv_engine"] else "onednn"
    assert config.conv_path_for((batch, cin, h, w), (cout, cin, 1, 1)) == expected
    _check(args, "relu")


def test_small_convs_take_the_direct_kernel():
    assert not _ran_onednn(_args(CASES[0], 1, False))
