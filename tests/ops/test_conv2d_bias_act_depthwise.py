"""conv2d_bias_act's direct depthwise kernel (csrc/ops/conv2d_bias_act/depthwise_conv_cpu.cpp:
channels_last fp32, one filter per channel) against the float64
reference, over the shapes that take each of its code paths: taps reading the input in place
or a ring of copied rows, eight-pixel blocks, whole or ending past the row (only its pixels stored; the sanitizer build, tools/sanitize.sh, sees no store past the
output), channel counts off the 16-lane grid, rectangular kernels, strides and padding, dilation, residual, every activation,
batches whose images share a thread's row ring, rings holding one chunk of channels at a time, and
NaN/Inf; at each x86-64 level's build this CPU can run (16-, 8- and 4-lane vectors: the
`kernel_level` fixture in tests/conftest.py)."""

import pytest
import torch

import cnnfast
from cnnfast.reference import conv2d_bias_act as reference
from tests._helpers import TOLERANCE, rel_err
from tests.ops.direct_conv_checks import check, check_nan_and_inf

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")

ACTS = ["none", "relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid", "tanh"]

# (C, H, W, (kh, kw), stride, padding, dilation)
CASES = [
    (58, 28, 28, (3, 3), (1, 1), (1, 1), (1, 1)),   # ShuffleNet stage 2: 3 blocks of 8, a fourth with 4 pixels
    (24, 56, 56, (3, 3), (2, 2), (1, 1), (1, 1)),   # strided
    (232, 7, 7, (3, 3), (1, 1), (1, 1), (1, 1)),    # 7 pixels: one block ending past the row
    (67, 9, 17, (5, 5), (1, 1), (2, 2), (1, 1)),    # 67 channels: a partial 16-lane block
    (1, 12, 13, (3, 3), (1, 1), (1, 1), (1, 1)),    # one channel
    (16, 10, 19, (3, 5), (2, 1), (1, 2), (1, 1)),   # rectangular kernel, mixed stride and padding
    (20, 15, 15, (3, 3), (1, 1), (2, 2), (2, 2)),   # dilation
    (33, 8, 8, (3, 3), (1, 1), (0, 0), (1, 1)),     # no padding
    (40, 6, 9, (1, 1), (1, 1), (0, 0), (1, 1)),     # 1x1 depthwise (a per-channel scale)
    (130, 11, 11, (7, 7), (3, 3), (3, 3), (1, 1)),  # big kernel, stride 3
    (72, 28, 28, (5, 5), (2, 2), (2, 2), (1, 1)),   # 5x5 stride 2 (MobileNetV3): 8 pixels from 19 columns
    # Channels on whole 16-lane blocks, wider maps: taps read the input in place (reads_in_place),
    # columns outside the image loaded as zeros, or, for an image over L2, through the ring.
    (32, 20, 37, (3, 3), (1, 1), (1, 1), (1, 1)),   # five blocks, the last with 5 pixels
    (48, 23, 41, (5, 5), (2, 2), (2, 2), (1, 1)),   # stride 2, 5x5
    (64, 9, 30, (3, 3), (1, 1), (2, 2), (2, 2)),    # dilation 2
    (96, 14, 14, (5, 5), (1, 1), (2, 2), (1, 1)),   # EfficientNet's 14x14 5x5
    (16, 6, 64, (3, 3), (1, 1), (0, 0), (1, 1)),    # no padding
    (32, 9, 9, (7, 7), (1, 1), (3, 3), (1, 1)),     # 7x7: one block, columns cut on both sides
    (16, 5, 5, (3, 3), (1, 1), (3, 3), (1, 1)),     # padding past the filter: whole columns of zeros
    (48, 4, 21, (1, 1), (1, 1), (0, 0), (1, 1)),    # 1x1 in place
    (32, 17, 33, (3, 3), (2, 2), (1, 1), (1, 1)),   # 3x3 stride 2 in place
    (64, 72, 72, (3, 3), (1, 1), (1, 1), (1, 1)),   # a 1.3 MB image: the ring where L2 is smaller
    # Many channels on small maps: the ring holds one chunk of channels at a time (chunk_channels:
    # rings of all channels over a sixth of L2, chunks of half of L1; so on 1 MB and 2 MB L2s with
    # 32 KB and 48 KB L1s), 64 or 96 channels, the last chunk narrower.
    (1600, 7, 7, (5, 5), (1, 1), (2, 2), (1, 1)),
    (1024, 10, 10, (5, 5), (2, 2), (2, 2), (1, 1)),  # stride 2: 32 or 64 channels a chunk
]


def _args(case, batch, residual, seed=0):
    c, h, w, k, s, p, d = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c, h, w, generator=g).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(c, 1, *k, generator=g) / (k[0] * k[1]) ** 0.5
    bias = torch.randn(c, generator=g)
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    res = torch.randn(batch, c, oh, ow, generator=g).contiguous(memory_format=torch.channels_last) if residual else None
    return x, weight, bias, s, p, d, c, res


def _check(args, act):
    x, weight, bias, s, p, d, g, res = args
    return check(x, weight, bias, s, p, d, g, res, act)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"c{c[0]}-{c[1]}x{c[2]}-k{c[3][0]}x{c[3][1]}-s{c[4][0]}{c[4][1]}")
def test_matches_reference(case, batch, residual, kernel_level):
    _check(_args(case, batch, residual), "relu")


@pytest.mark.parametrize("act", ACTS)
def test_every_activation(act, kernel_level):
    _check(_args(CASES[3], 2, residual=True), act)


def test_no_bias():
    x, weight, _, s, p, d, g, _ = _args(CASES[0], 2, False)
    out = cnnfast.ops.conv2d_bias_act(x, weight, None, s, p, d, g, None, "relu")
    ref = reference(x.double(), weight.double(), None, s, p, d, g, None, "relu")
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


def test_nan_and_inf_propagate_as_in_eager(kernel_level):
    x, weight, bias, s, p, d, g, _ = _args(CASES[0], 1, False)
    check_nan_and_inf(x, weight, bias, s, p, d, g, (0, 3, 5, 5), (0, 7, 0, 0))


def test_channel_slice_input(kernel_level):
    # A channel slice of a channels_last buffer (what ShuffleNet's blocks read) is copied dense first.
    big = torch.randn(2, 80, 12, 12).contiguous(memory_format=torch.channels_last)
    x = big[:, 10:50]
    weight, bias = torch.randn(40, 1, 3, 3), torch.randn(40)
    out = cnnfast.ops.conv2d_bias_act(x, weight, bias, 1, 1, 1, 40, None, "relu")
    ref = reference(x.double(), weight.double(), bias.double(), (1, 1), (1, 1), (1, 1), 40, None, "relu")
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


def test_weight_change_is_seen():
    # The packed filter is cached per weight tensor; an in-place update must repack it.
    x, weight, bias, s, p, d, g, _ = _args(CASES[0], 1, False)
    first = cnnfast.ops.conv2d_bias_act(x, weight, bias, s, p, d, g, None, "none")
    weight.mul_(2)
    second = cnnfast.ops.conv2d_bias_act(x, weight, bias, s, p, d, g, None, "none")
    assert rel_err(second - bias.view(1, -1, 1, 1), 2 * (first - bias.view(1, -1, 1, 1))) <= 1e-6
