"""conv2d_bias_act's direct stem kernel (csrc/ops/conv2d_bias_act/stem_conv_cpu.cpp: channels_last
fp32, groups 1, at most 4 input and 64 output channels) against the float64 reference: each
register-block form (16 pixels x 1 vector, 8 x 2, 4 x 3, 4 x 4 with AVX-512; 6 x 2 a pair of vectors at
a time on AVX2 and below), output channels off the 16-lane
grid, the lecture models' stems (3x3/2, 7x7/2, 11x11/4), padding, dilation, a last pixel block
ending past the row, residual, every activation, batches sharing a thread's row ring, NaN/Inf."""

import pytest
import torch

from cnnfast import config
from tests.ops.direct_conv_checks import check_nan_and_inf, check_on, check_weight_change_is_seen

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py),
# and at every x86-64 level this CPU can run: the kernel is built per level on its vector width.
pytestmark = pytest.mark.usefixtures("routed_as_avx512", "kernel_level")

ACTS = ["none", "relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid", "tanh"]

# (C, K, H, W, (kh, kw), stride, padding, dilation)
CASES = [
    (3, 16, 33, 35, (3, 3), (2, 2), (1, 1), (1, 1)),   # MobileNetV3: 16 pixels x 1 vector, 17 px rows
    (3, 32, 31, 29, (3, 3), (2, 2), (1, 1), (1, 1)),   # EfficientNet, RegNet: 8 x 2
    (3, 24, 20, 21, (3, 3), (2, 2), (1, 1), (1, 1)),   # ShuffleNet: 24 channels, half a vector unused
    (3, 64, 30, 30, (7, 7), (2, 2), (3, 3), (1, 1)),   # ResNet, GoogLeNet, DenseNet: 4 x 4
    (3, 40, 17, 19, (3, 3), (1, 1), (1, 1), (1, 1)),   # 4 x 3, 40 channels
    (3, 64, 47, 47, (11, 11), (4, 4), (2, 2), (1, 1)),  # AlexNet
    (1, 7, 12, 13, (5, 5), (1, 1), (0, 0), (1, 1)),    # one input channel, 7 output channels
    (4, 16, 15, 9, (3, 5), (1, 2), (2, 1), (2, 1)),    # rectangular, mixed stride, dilation
    (2, 48, 5, 6, (3, 3), (1, 1), (3, 3), (1, 1)),     # padding larger than the map's edge
]


def _args(case, batch, residual, seed=0):
    c, k, h, w, ks, s, p, d = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c, h, w, generator=g).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(k, c, *ks, generator=g) / (c * ks[0] * ks[1]) ** 0.5
    bias = torch.randn(k, generator=g)
    oh = (h + 2 * p[0] - d[0] * (ks[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (ks[1] - 1) - 1) // s[1] + 1
    res = torch.randn(batch, k, oh, ow, generator=g).contiguous(memory_format=torch.channels_last) if residual else None
    return x, weight, bias, s, p, d, 1, res


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"c{c[0]}k{c[1]}-{c[2]}x{c[3]}-k{c[4][0]}x{c[4][1]}-s{c[5][0]}{c[5][1]}")
def test_matches_reference(case, batch, residual):
    check_on("stem", _args(case, batch, residual), "relu")


@pytest.mark.parametrize("act", ACTS)
def test_every_activation(act):
    check_on("stem", _args(CASES[1], 2, residual=True), act)


def test_nan_and_inf_propagate_as_in_eager():
    x, weight, bias, s, p, d, g, _ = _args(CASES[0], 1, False)
    with config.force_conv_path("stem"):
        check_nan_and_inf(x, weight, bias, s, p, d, g, (0, 1, 5, 5), (0, 2, 0, 0))


def test_weight_change_is_seen():
    x, weight, bias, s, p, d, g, _ = _args(CASES[0], 1, False)
    check_weight_change_is_seen("stem", x, weight, s, p, d, g)


def test_more_than_four_input_channels_is_not_taken():
    with config.force_conv_path("stem"):
        assert config.conv_path_for((1, 5, 20, 20), (16, 5, 3, 3), 1, 1, 1, 1) != "stem"
        assert config.conv_path_for((1, 3, 20, 20), (80, 3, 3, 3), 1, 1, 1, 1) != "stem"  # > 64 outputs
