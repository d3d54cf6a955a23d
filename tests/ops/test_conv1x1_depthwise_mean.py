"""cnnfast.ops.conv1x1_depthwise_mean (a 1x1 conv, the depthwise conv it feeds, and the per-channel
means of the output: the squeeze of the SE block after an inverted residual) against its float64
reference: the pair fused and apart (forced each way), task boundaries inside and across images
(1-3 threads, batch 1 and 3), channels on and off the 16-lane grid, strides 1 and 2, every
activation pair; the output bit-equal to conv1x1_depthwise's; the composite (NCHW, other dtypes,
other backends); opcheck and bad input."""

import pytest
import torch

import cnnfast
from cnnfast import config
from cnnfast.contracts.activations import ACTIVATIONS
from cnnfast.reference import conv1x1_depthwise_mean as reference
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")

# (C_in, C_mid, H, W, k, stride): MobileNetV3's and EfficientNet's SE pairs (28x28 and smaller, and
# EfficientNet's 56x56), and odd shapes around them.
SHAPES = [(24, 72, 56, 56, 5, 2), (40, 120, 28, 28, 5, 1), (80, 480, 14, 14, 3, 1), (112, 672, 14, 14, 5, 2),
          (160, 960, 7, 7, 5, 1), (24, 144, 56, 56, 3, 1), (17, 33, 13, 11, 3, 1), (5, 40, 9, 10, 3, 2)]


def _ids(s):
    return "{}-{}-{}x{}-k{}s{}".format(*s)


def _args(batch, shape, dtype=torch.float32, channels_last=True, seed=0):
    cin, c, h, w, k, s = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cin, h, w, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w1, b1 = torch.randn(c, cin, 1, 1, generator=g) / cin ** 0.5, torch.randn(c, generator=g)
    w2, b2 = torch.randn(c, 1, k, k, generator=g) / k, torch.randn(c, generator=g)
    return [t.to(dtype) for t in (x, w1, b1, w2, b2)] + [[s, s], [k // 2, k // 2], [1, 1]]


def _check(args, act1, act2, dtype=torch.float32, **kw):
    x, w1, b1, w2, b2, stride, padding, dilation = args
    y, mean = cnnfast.ops.conv1x1_depthwise_mean(x, w1, b1, act1, w2, b2, stride, padding, dilation, act2, **kw)
    d = [t.double() if isinstance(t, torch.Tensor) else t for t in args]
    ref_y, ref_mean = reference(d[0], d[1], d[2], act1, d[3], d[4], stride, padding, dilation, act2)
    assert y.dtype == dtype and mean.dtype == dtype and mean.shape == (y.shape[0], y.shape[1])
    assert rel_err(y, ref_y) <= TOLERANCE[dtype]
    err = rel_err(mean, ref_mean)
    assert err <= TOLERANCE[dtype], f"means: relative error {err:.2e}"
    return y, mean


@pytest.mark.parametrize("fuse", [True, False], ids=["fused", "apart"])
@pytest.mark.parametrize("threads", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", SHAPES, ids=_ids)
def test_summed_by_the_depthwise_kernel(shape, batch, threads, fuse):
    args = _args(batch, shape)
    with config.force_conv1x1_depthwise(fuse):
        y, _ = _check(args, "relu", "hardswish")
        x, w1, b1, w2, b2, stride, padding, dilation = args
        # The map is conv1x1_depthwise's, bit for bit: the same kernels store it.
        assert torch.equal(y, cnnfast.ops.conv1x1_depthwise(x, w1, b1, "relu", w2, b2, stride, padding, dilation,
                                                           "hardswish"))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation(act):
    with config.force_conv1x1_depthwise(True):
        _check(_args(2, SHAPES[1], seed=1), "silu", act)
    _check(_args(2, SHAPES[2], seed=1), act, "relu")


def test_nan_reaches_the_means_of_its_image():
    args = _args(2, SHAPES[6], seed=2)
    args[0][0, 3, 4, 5] = float("nan")  # a 1x1 conv spreads it to every channel of image 0
    y, mean = cnnfast.ops.conv1x1_depthwise_mean(*args[:3], "relu", *args[3:5], *args[5:], act2="none")
    assert mean[0].isnan().all() and mean[1].isfinite().all()


@pytest.mark.parametrize("dtype,channels_last", [(torch.float32, False), (torch.float64, True)])
def test_composite_layouts_and_dtypes(dtype, channels_last):
    _check(_args(2, SHAPES[2], dtype=dtype, channels_last=channels_last, seed=3), "relu6", "hardsigmoid", dtype)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
def test_devices_and_backends(device, backend):
    args = [t.to(device) if isinstance(t, torch.Tensor) else t for t in _args(2, SHAPES[1], seed=4)]
    _check(args, "relu", "hardswish", backend=backend)


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[4]], ids=_ids)
def test_opcheck(shape, channels_last):
    x, w1, b1, w2, b2, stride, padding, dilation = _args(2, shape, channels_last=channels_last)
    torch.library.opcheck(torch.ops.cnnfast.conv1x1_depthwise_mean.default,
                          (x, w1, b1, "relu", w2, b2, stride, padding, dilation, "hardswish"))


def test_bad_input_is_refused_as_conv1x1_depthwise_refuses_it():
    x, w1, b1, w2, b2, stride, padding, dilation = _args(1, SHAPES[2])
    with pytest.raises(ValueError, match="weight2 must have shape"):
        torch.ops.cnnfast.conv1x1_depthwise_mean(x, w1, b1, "relu", w2[:5], b2, stride, padding, dilation, "none")
    with pytest.raises(ValueError, match="act must be one of"):
        cnnfast.ops.conv1x1_depthwise_mean(x, w1, b1, "gelu", w2, b2)
