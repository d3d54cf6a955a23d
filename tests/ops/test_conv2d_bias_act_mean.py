"""cnnfast.ops.conv2d_bias_act_mean (a conv and the per-channel means of its output, the squeeze of
the SE block after it) against its float64 reference: on every CPU kernel that takes the sums as
it stores (the direct depthwise, 1x1 and grouped kernels, the conv engine's direct and Winograd
loops), with task boundaries inside and across images (1-3 threads, batch 1 and 3), channels on
and off the 16-lane grid, residual, every activation, NaN and Inf (the Winograd form's fallback
starts its sums again); the output bit-equal to conv2d_bias_act's; the composite (kernels that do
not sum, NCHW, other dtypes); opcheck and bad input."""

import pytest
import torch

import cnnfast
from cnnfast import config
from cnnfast.contracts.activations import ACTIVATIONS
from cnnfast.contracts.layout import conv_memory_format
from cnnfast.reference import conv2d_bias_act_mean as reference
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err, skip_unless_grouped_kernel_runs

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")

# (path, C_in, C_out, H, W, k, stride, groups): a layer for each kernel that sums as it stores,
# forced onto that kernel. SE layers of MobileNetV3/EfficientNet (depthwise), SE-ResNet (1x1,
# engine), RegNetY and ResNeXt (grouped), and odd shapes around them.
SUMMED = [
    ("depthwise", 72, 72, 28, 28, 5, 1, 72), ("depthwise", 120, 120, 28, 28, 5, 1, 120),
    ("depthwise", 32, 32, 23, 19, 3, 2, 32), ("depthwise", 33, 33, 9, 11, 3, 1, 33),
    ("depthwise", 960, 960, 7, 7, 5, 1, 960), ("depthwise", 672, 672, 14, 14, 5, 2, 672),
    ("pointwise", 64, 256, 14, 14, 1, 1, 1), ("pointwise", 24, 58, 13, 11, 1, 1, 1),
    ("pointwise", 17, 33, 7, 9, 1, 1, 1), ("pointwise", 160, 960, 7, 7, 1, 1, 1),
    ("engine", 64, 256, 14, 14, 1, 1, 1), ("engine", 32, 48, 9, 7, 3, 2, 1), ("engine", 17, 33, 11, 10, 3, 1, 1),
    ("winograd", 32, 64, 14, 14, 3, 1, 1), ("winograd", 16, 17, 9, 7, 3, 1, 1),
    ("grouped", 48, 48, 14, 14, 3, 1, 6), ("grouped", 64, 64, 9, 11, 3, 2, 16), ("grouped", 104, 104, 7, 7, 3, 1, 13),
    # Wide groups (rows split into channel chunks at batch 1), a 1x1 weight over 1 MB (pixel tiles).
    ("grouped", 512, 512, 14, 14, 3, 1, 32), ("grouped", 256, 256, 7, 7, 3, 1, 8),
    ("pointwise", 1024, 264, 23, 21, 1, 1, 1),
]


def _ids(s):
    return "{}-{}-{}-{}x{}-k{}s{}g{}".format(*s)


def _args(batch, shape, dtype=torch.float32, channels_last=True, residual=False, seed=0):
    _, cin, cout, h, w, k, s, groups = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cin, h, w, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(cout, cin // groups, k, k, generator=g) / (k * (cin // groups) ** 0.5)
    bias = torch.randn(cout, generator=g)
    pad = (k - 1) // 2
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    res = torch.randn(batch, cout, oh, ow, generator=g) if residual else None
    if res is not None and channels_last:
        res = res.contiguous(memory_format=torch.channels_last)
    cast = (lambda t: t.to(dtype) if t is not None else None)
    return dict(x=cast(x), weight=cast(weight), bias=cast(bias), stride=[s, s], padding=[pad, pad], dilation=[1, 1],
                groups=groups, residual=cast(res))


def _check(args, act="relu", dtype=torch.float32):
    y, mean = cnnfast.ops.conv2d_bias_act_mean(act=act, **args)
    ref_y, ref_mean = reference(act=act, **{k: v.double() if isinstance(v, torch.Tensor) else v for k, v in args.items()})
    assert y.shape == ref_y.shape and y.dtype == dtype and mean.dtype == dtype
    assert mean.shape == (y.shape[0], y.shape[1])
    assert y.is_contiguous(memory_format=conv_memory_format(args["x"]))
    assert rel_err(y, ref_y) <= TOLERANCE[dtype]
    # Against the largest |mean|, as rel_err does; the means of ReLU maps are all of one size.
    err = rel_err(mean, ref_mean)
    assert err <= TOLERANCE[dtype], f"means: relative error {err:.2e}"
    # The map is conv2d_bias_act's, bit for bit: the same kernel stores it.
    assert torch.equal(y, cnnfast.ops.conv2d_bias_act(act=act, **args))
    return y, mean


@pytest.mark.parametrize("threads", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", SUMMED, ids=_ids)
def test_summed_by_the_kernel(shape, batch, threads):
    if shape[0] == "grouped":
        skip_unless_grouped_kernel_runs(shape[1], shape[7])
    args = _args(batch, shape)
    with config.force_conv_path(shape[0]):
        assert config.conv_path_for(args["x"].shape, args["weight"].shape, args["stride"], args["padding"],
                                    groups=args["groups"]) == shape[0]
        _check(args, "relu" if batch == 1 else "hardswish")


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("shape", [SUMMED[0], SUMMED[6], SUMMED[10], SUMMED[13], SUMMED[15]], ids=_ids)
def test_every_activation_and_a_residual(shape, act):
    args = _args(2, shape, residual=True, seed=1)
    with config.force_conv_path(shape[0]):
        _check(args, act)


@pytest.mark.parametrize("threads", [2], indirect=True)
@pytest.mark.parametrize("shape", [SUMMED[1], SUMMED[7], SUMMED[11], SUMMED[13], SUMMED[16]], ids=_ids)
def test_nan_and_inf_reach_the_means(shape, threads):
    # A NaN in x poisons the means of the channels that read it, an Inf gives +-Inf or NaN, as the
    # reference mean of the map does. On the Winograd form a non-finite input sends the layer to
    # the direct loops after some tiles were stored: their sums must start again.
    args = _args(2, shape, seed=2)
    x = args["x"]
    x[0, 0, 1, 1] = float("nan")
    x[1, -1, 2, 3] = float("inf")
    with config.force_conv_path(shape[0]):
        y, mean = cnnfast.ops.conv2d_bias_act_mean(act="none", **args)
        assert torch.equal(y.isnan(), cnnfast.ops.conv2d_bias_act(act="none", **args).isnan())
    ref_y, ref_mean = reference(act="none", **{k: v.double() if isinstance(v, torch.Tensor) else v
                                               for k, v in args.items()})
    assert torch.equal(mean.isnan(), ref_mean.isnan())
    assert torch.equal(mean.isinf(), ref_mean.isinf())
    finite = ref_mean.isfinite()
    if finite.any():  # a 1x1 conv spreads a NaN to every channel of its image
        assert rel_err(mean[finite], ref_mean[finite]) <= TOLERANCE[torch.float32]


def test_winograd_fallback_counts_each_value_once():
    # The Winograd form met an Inf in the last image, after the first images' tiles were stored
    # (and summed): the means of the finite image must not count those tiles twice.
    args = _args(3, SUMMED[13], seed=3)
    args["x"][2, 5, 13, 13] = float("inf")
    with config.force_conv_path("winograd"):
        _, mean = cnnfast.ops.conv2d_bias_act_mean(act="relu", **args)
    ref_y, ref_mean = reference(act="relu", **{k: v.double() if isinstance(v, torch.Tensor) else v
                                               for k, v in args.items()})
    assert rel_err(mean[:2], ref_mean[:2]) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("path", ["onednn", "portable", "stem", "gemm"])
def test_kernels_that_do_not_sum_squeeze_the_output(path):
    # oneDNN, ATen's conv, the stem kernel and the 1x1-map GEMM: the op squeezes the map after.
    shape = {"stem": ("stem", 3, 32, 30, 28, 3, 2, 1), "gemm": ("gemm", 64, 48, 1, 1, 1, 1, 1)}.get(
        path, (path, 32, 64, 14, 14, 3, 1, 1))
    args = _args(2, shape, seed=4)
    with config.force_conv_path(path):
        assert config.conv_path_for(args["x"].shape, args["weight"].shape, args["stride"], args["padding"]) == path
        _check(args, "silu")


@pytest.mark.parametrize("dtype,channels_last", [(torch.float32, False), (torch.float64, True),
                                                 (torch.bfloat16, True)])
def test_composite_layouts_and_dtypes(dtype, channels_last):
    args = _args(2, SUMMED[6], dtype=dtype, channels_last=channels_last, seed=5)
    _check(args, "relu6", dtype)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
def test_devices_and_backends(device, backend):
    args = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in _args(2, SUMMED[0], seed=6).items()}
    y, mean = cnnfast.ops.conv2d_bias_act_mean(act="hardswish", backend=backend, **args)
    ref_y, ref_mean = reference(act="hardswish", **{k: v.double() if isinstance(v, torch.Tensor) else v
                                                    for k, v in args.items()})
    assert rel_err(y, ref_y) <= TOLERANCE[torch.float32]
    assert rel_err(mean, ref_mean) <= TOLERANCE[torch.float32]


def test_an_empty_batch():
    args = _args(1, SUMMED[0])
    args["x"] = args["x"][:0]
    y, mean = cnnfast.ops.conv2d_bias_act_mean(**args)
    assert y.shape == (0, 72, 28, 28) and mean.shape == (0, 72)


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("shape", [SUMMED[0], SUMMED[6], SUMMED[11], SUMMED[15]], ids=_ids)
def test_opcheck(shape, channels_last):
    a = _args(2, shape, channels_last=channels_last)
    torch.library.opcheck(torch.ops.cnnfast.conv2d_bias_act_mean.default,
                          (a["x"], a["weight"], a["bias"], a["stride"], a["padding"], a["dilation"], a["groups"],
                           None, "relu"))


def test_bad_input_is_refused_as_conv2d_bias_act_refuses_it():
    a = _args(1, SUMMED[6])
    with pytest.raises(ValueError, match="channels"):
        cnnfast.ops.conv2d_bias_act_mean(a["x"][:, :10], a["weight"], a["bias"])
    with pytest.raises(ValueError, match="act must be one of"):
        cnnfast.ops.conv2d_bias_act_mean(a["x"], a["weight"], a["bias"], act="gelu")
    with pytest.raises((ValueError, RuntimeError), match="gelu"):  # the C++ kernel's own check
        torch.ops.cnnfast.conv2d_bias_act_mean(a["x"], a["weight"], a["bias"], [1, 1], [0, 0], [1, 1], 1, None,
                                               "gelu")
