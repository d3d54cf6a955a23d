"""cnnfast.ops.conv1x1_depthwise (a 1x1 conv feeding a depthwise conv) against its float64
reference: the fused CPU kernel on the 56x56 and 112x112 pairs of MobileNetV3, EfficientNet and
ShuffleNet (channels on and off the 16-lane grid, strides 1 and 2, 3x3 and 5x5, dilation), task
boundaries inside an image (1-3 threads, batch 1 and 3), every activation, NaN and Inf, exact
agreement with the two convs run apart, the composite path (small maps, NCHW, other dtypes),
opcheck, the fusing rule and bad input."""

import pytest
import torch

import cnnfast
from cnnfast import config
from cnnfast.contracts.activations import ACTIVATIONS
from cnnfast.contracts.layout import conv_memory_format
from cnnfast.reference import conv1x1_depthwise as reference
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")

# (C_in, C_mid, H, W, k, stride, dilation): pairs the fused kernel takes (maps of 56x56 and more).
FUSED = [(16, 64, 112, 112, 3, 2, 1), (24, 72, 56, 56, 3, 1, 1), (24, 72, 56, 56, 5, 2, 1),
         (24, 144, 56, 56, 3, 1, 1), (24, 58, 56, 56, 3, 2, 1), (17, 33, 57, 61, 3, 1, 1),
         (5, 16, 64, 60, 5, 1, 1), (8, 40, 60, 56, 3, 1, 2), (3, 7, 64, 58, 7, 3, 1)]
# Pairs on smaller maps: the two convs run as conv2d_bias_act calls.
COMPOSITE = [(80, 480, 14, 14, 3, 1, 1), (160, 960, 7, 7, 5, 1, 1), (58, 58, 28, 28, 3, 1, 1), (3, 5, 4, 6, 3, 2, 1)]


def _ids(s):
    return "{}-{}-{}x{}-k{}s{}d{}".format(*s)


def _args(batch, shape, dtype=torch.float32, channels_last=True, bias=True, seed=0):
    cin, c, h, w, k, s, d = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cin, h, w, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w1 = torch.randn(c, cin, 1, 1, generator=g) / cin ** 0.5
    b1 = torch.randn(c, generator=g) if bias else None
    w2 = torch.randn(c, 1, k, k, generator=g) / k
    b2 = torch.randn(c, generator=g) if bias else None
    pad = d * (k - 1) // 2
    return [t.to(dtype) if isinstance(t, torch.Tensor) else t for t in (x, w1, b1, w2, b2)] + [[s, s], [pad, pad], [d, d]]


def _call(args, act1="relu", act2="hardswish"):
    x, w1, b1, w2, b2, stride, padding, dilation = args
    return cnnfast.ops.conv1x1_depthwise(x, w1, b1, act1, w2, b2, stride, padding, dilation, act2)


def _check(args, act1="relu", act2="hardswish", dtype=torch.float32):
    out = _call(args, act1, act2)
    x, w1, b1, w2, b2, stride, padding, dilation = (t.double() if isinstance(t, torch.Tensor) else t for t in args)
    ref = reference(x, w1, b1, act1, w2, b2, stride, padding, dilation, act2)
    assert out.shape == ref.shape and out.dtype == dtype
    assert out.is_contiguous(memory_format=conv_memory_format(args[0]))
    err = rel_err(out, ref)
    assert err <= TOLERANCE[dtype], f"relative error {err:.2e}"
    return out


def _fuses(args, batch=None):
    x, w1, _, w2, _, stride, _, _ = args
    return config.conv1x1_depthwise_fuses(x.shape, w1.shape, w2.shape, stride)


@pytest.mark.parametrize("threads", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", FUSED, ids=_ids)
def test_fused_matches_reference(shape, batch, threads):
    args = _args(batch, shape)
    assert _fuses(args)
    _check(args, "relu", "hardswish" if shape[1] % 2 else "relu")


@pytest.mark.parametrize("threads", [2], indirect=True)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", FUSED, ids=_ids)
def test_fused_on_every_kernel_level(shape, batch, threads, kernel_level):
    # The 1x1 half on the direct 1x1 kernel's build for each x86-64 level (8-lane vectors with
    # AVX2, 4 below; the rule fuses without AVX-512 too), the depthwise half likewise.
    args = _args(batch, shape)
    assert _fuses(args)
    _check(args, "hardswish", "silu")


@pytest.mark.parametrize("threads", [2], indirect=True)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", COMPOSITE, ids=_ids)
def test_composite_matches_reference(shape, batch, threads):
    args = _args(batch, shape)
    assert not _fuses(args)
    _check(args, "silu", "silu")


@pytest.mark.parametrize("threads", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", COMPOSITE, ids=_ids)
def test_fused_kernel_forced_on_small_maps(shape, batch, threads):
    # The rule keeps these apart; the kernel must still be right there (tasks of one or two rows,
    # each thread's window mostly rows another computes too, a 4x6 map at stride 2).
    args = _args(batch, shape)
    with config.force_conv1x1_depthwise(True):
        assert _fuses(args)
        _check(args, "silu", "relu6")


@pytest.mark.parametrize("act2", ACTIVATIONS)
@pytest.mark.parametrize("act1", ACTIVATIONS)
def test_every_activation_pair(act1, act2):
    _check(_args(1, FUSED[5]), act1, act2)  # 33 channels: two whole vectors and one lane


@pytest.mark.parametrize("shape", FUSED[:5], ids=_ids)
def test_fused_equals_the_two_convs_run_apart(shape):
    # Same arithmetic in the same order as the direct 1x1 and depthwise kernels, which run these
    # convs apart at batch 1: the results agree bit for bit.
    args = _args(1, shape)
    x, w1, b1, w2, b2, stride, padding, dilation = args
    mid_shape = (1, w1.shape[0], x.shape[2], x.shape[3])
    assert config.conv_path_for(x.shape, w1.shape) == "pointwise"
    assert config.conv_path_for(mid_shape, w2.shape, stride, padding, dilation, w1.shape[0]) == "depthwise"
    mid = cnnfast.ops.conv2d_bias_act(x, w1, b1, 1, 0, 1, 1, None, "relu")
    apart = cnnfast.ops.conv2d_bias_act(mid, w2, b2, stride, padding, dilation, w1.shape[0], None, "hardswish")
    assert torch.equal(_call(args), apart)


@pytest.mark.parametrize("shape", [FUSED[1], FUSED[5]], ids=_ids)
def test_nan_and_inf_land_where_eager_puts_them(shape, kernel_level):
    # An Inf in x makes the 1x1 conv's padding lanes (zero weights) NaN in the ring: they must
    # stay in lanes whose sums are never stored.
    args = _args(1, shape)
    x = args[0].clone()
    x[0, 1, 3, 4] = float("nan")
    x[0, 0, 20, 9] = float("inf")
    args[0] = x
    for act in ACTIVATIONS:
        out = _call(args, act, act)
        d = [t.double() if isinstance(t, torch.Tensor) else t for t in args]
        ref = reference(d[0], d[1], d[2], act, d[3], d[4], *d[5:], act).float()
        assert torch.equal(out.isnan(), ref.isnan()), act
        assert torch.equal(out.isinf(), ref.isinf()), act
        finite = ref.isfinite()
        assert rel_err(out[finite], ref[finite]) <= TOLERANCE[torch.float32], act


def test_no_bias():
    _check(_args(2, FUSED[1], bias=False))
    _check(_args(2, COMPOSITE[0], bias=False))


@pytest.mark.parametrize("shape", [FUSED[1], COMPOSITE[0]], ids=_ids)
def test_nchw_input_gives_nchw_output(shape):
    out = _check(_args(2, shape, channels_last=False))
    assert out.is_contiguous()


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_other_dtypes_run_the_two_convs(dtype):
    _check(_args(2, FUSED[1], dtype=dtype), dtype=dtype)


def test_weight_change_is_seen():
    # Both filters are packed once per weight tensor: an in-place update must be repacked.
    args = _args(1, FUSED[1], bias=False)
    first = _call(args, "none", "none")
    args[1].mul_(2)
    args[3].mul_(3)
    torch.testing.assert_close(_call(args, "none", "none"), 6 * first, rtol=1e-5, atol=1e-5)


def test_empty_batch():
    args = _args(1, FUSED[1])
    args[0] = args[0][:0]
    assert _call(args).shape == (0, 72, 56, 56)


@pytest.mark.parametrize("shape", [FUSED[5], COMPOSITE[3]], ids=_ids)
@pytest.mark.parametrize("channels_last", [True, False])
def test_opcheck(shape, channels_last):
    x, w1, b1, w2, b2, stride, padding, dilation = _args(2, shape, channels_last=channels_last)
    torch.library.opcheck(torch.ops.cnnfast.conv1x1_depthwise.default,
                          (x, w1, b1, "relu", w2, b2, stride, padding, dilation, "hardswish"))


def test_the_rule_fuses_large_maps_and_whole_images():
    fuses = config.conv1x1_depthwise_fuses
    # MobileNetV3-L's 16 -> 64 at 112x112 and 24 -> 72 at 56x56; EfficientNet-B0's 24 -> 144 5x5/2.
    assert fuses((1, 16, 112, 112), (64, 16, 1, 1), (64, 1, 3, 3), 2, threads=2)
    assert fuses((1, 24, 56, 56), (72, 24, 1, 1), (72, 1, 3, 3), 1, threads=2)
    assert fuses((8, 24, 56, 56), (144, 24, 1, 1), (144, 1, 5, 5), 2, threads=2)
    # 28x28 at batch 8 (each thread's task whole images) up to 256 channels; not at batch 1, where
    # the rows two threads' windows share are computed twice.
    assert fuses((8, 40, 28, 28), (120, 40, 1, 1), (120, 1, 5, 5), 1, threads=2)
    assert not fuses((1, 40, 28, 28), (120, 40, 1, 1), (120, 1, 5, 5), 1, threads=2)
    assert not fuses((8, 112, 28, 28), (672, 112, 1, 1), (672, 1, 5, 5), 1, threads=2)
    # 14x14 and 7x7: the map stays in cache anyway (measured 0.94-1.77x the time apart).
    assert not fuses((8, 80, 14, 14), (200, 80, 1, 1), (200, 1, 3, 3), 1, threads=2)
    assert not fuses((8, 160, 7, 7), (960, 160, 1, 1), (960, 1, 5, 5), 1, threads=2)
    # A tall filter over a map split between three threads: shared rows over an eighth of the work.
    assert not fuses((1, 16, 56, 56), (32, 16, 1, 1), (32, 1, 7, 7), 1, threads=3)
    # ... unless every thread's task is whole images.
    assert fuses((3, 16, 56, 56), (32, 16, 1, 1), (32, 1, 7, 7), 1, threads=3)


@pytest.mark.parametrize("threads", [2], indirect=True)
def test_forcing_apart_and_back_to_the_rule(threads):
    args = _args(3, FUSED[1])
    with config.force_conv1x1_depthwise(False):
        assert not _fuses(args)
        _check(args)
        with config.force_conv1x1_depthwise(None):
            assert _fuses(args)
    assert _fuses(args) and not _fuses(_args(3, COMPOSITE[1]))


BAD = [
    (dict(x=torch.randn(8, 5, 5)), ValueError, "4-D"),
    (dict(w1=torch.randn(16, 8, 3, 3)), ValueError, "weight1 must have shape"),
    (dict(w1=torch.randn(16, 9, 1, 1)), ValueError, "weight1 must have shape"),
    (dict(b1=torch.randn(5)), ValueError, "bias1 must have shape"),
    (dict(w2=torch.randn(16, 2, 3, 3)), ValueError, "weight2 must have shape"),
    (dict(w2=torch.randn(8, 1, 3, 3)), ValueError, "weight2 must have shape"),
    (dict(b2=torch.randn(15)), ValueError, "bias2 must have shape"),
    (dict(w2=torch.randn(16, 1, 3, 3, dtype=torch.float64)), TypeError, "weight2 dtype"),
    (dict(x=torch.randint(0, 3, (1, 8, 5, 5))), TypeError, "floating"),
    (dict(stride=[0, 1]), ValueError, "stride must be >= 1"),
    (dict(padding=[1]), ValueError, "padding must have 2 elements"),
    (dict(w2=torch.randn(16, 1, 7, 7), padding=[0, 0]), ValueError, "larger than"),
]


@pytest.mark.parametrize("bad,error,match", BAD, ids=lambda v: str(v)[:40] if isinstance(v, str) else None)
def test_bad_input_is_a_clear_error(bad, error, match):
    a = dict(x=torch.randn(1, 8, 5, 5), w1=torch.randn(16, 8, 1, 1), b1=torch.randn(16), w2=torch.randn(16, 1, 3, 3),
             b2=torch.randn(16), stride=[1, 1], padding=[1, 1])
    a.update(bad)
    with pytest.raises(error, match=match):
        torch.ops.cnnfast.conv1x1_depthwise(a["x"], a["w1"], a["b1"], "relu", a["w2"], a["b2"], a["stride"],
                                            a["padding"], [1, 1], "none")


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("channels_last", [True, False])
def test_each_device_and_backend(device, backend, channels_last):
    args = [t.to(device) if isinstance(t, torch.Tensor) else t for t in _args(2, COMPOSITE[3], channels_last=channels_last)]
    x, w1, b1, w2, b2, stride, padding, dilation = args
    out = cnnfast.ops.conv1x1_depthwise(x, w1, b1, "relu", w2, b2, stride, padding, dilation, "silu", backend=backend)
    d = [t.cpu().double() if isinstance(t, torch.Tensor) else t for t in args]
    ref = reference(d[0], d[1], d[2], "relu", d[3], d[4], *d[5:], "silu")
    assert out.device.type == device and out.is_contiguous(memory_format=conv_memory_format(x))
    assert rel_err(out.cpu(), ref) <= TOLERANCE[torch.float32]


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="act must be one of"):
        _call(_args(1, COMPOSITE[3]), "gelu", "relu")
