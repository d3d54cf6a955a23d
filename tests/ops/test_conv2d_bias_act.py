"""cnnfast.ops.conv2d_bias_act against its plain-PyTorch reference, opcheck, and bad input."""

import itertools

import pytest
import torch

import cnnfast
from cnnfast.ops import ACTIVATIONS
from cnnfast.contracts.layout import conv_memory_format as output_memory_format
from cnnfast.reference import conv2d_bias_act as reference
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err

# (C_in, C_out, kernel, stride, padding, dilation, groups, H, W): the layer kinds of the lecture
# models: LeNet/AlexNet big kernels, VGG/ResNet 3x3, 1x1 bottlenecks, grouped (ResNeXt),
# depthwise (MobileNet/ShuffleNet), strided 7x7 stems, dilation, odd sizes.
SHAPES = [
    (1, 6, 5, 1, 0, 1, 1, 32, 32),      # LeNet-5 C1
    (3, 16, 11, 4, 2, 1, 1, 63, 63),    # AlexNet conv1 (reduced width)
    (3, 8, 7, 2, 3, 1, 1, 33, 29),      # ResNet stem
    (16, 24, 3, 1, 1, 1, 1, 14, 14),    # VGG/ResNet 3x3
    (16, 32, 3, 2, 1, 1, 1, 15, 15),    # strided 3x3
    (32, 16, 1, 1, 0, 1, 1, 7, 7),      # 1x1 bottleneck reduce
    (16, 32, 1, 2, 0, 1, 1, 9, 9),      # 1x1 strided downsample
    (32, 32, 3, 1, 1, 1, 8, 10, 10),    # ResNeXt grouped 3x3
    (24, 24, 3, 1, 1, 1, 24, 11, 11),   # depthwise 3x3
    (24, 24, 5, 2, 2, 1, 24, 12, 12),   # depthwise 5x5 strided
    (8, 8, 3, 1, 2, 2, 1, 13, 13),      # dilated
    (5, 7, 5, 1, 1, 1, 1, 9, 8),        # odd channels, partial padding
    (12, 18, 7, 1, 3, 1, 3, 9, 9),      # 7x7 grouped
]


def _inputs(shape, batch, dtype, layout, residual, seed=0):
    cin, cout, k, s, p, d, g, h, w = shape
    gen = torch.Generator().manual_seed(seed)
    # Scaled so outputs reach well past every activation's kinks (ReLU6 at 6, hard* at +-3).
    x = (3 * torch.randn(batch, cin, h, w, generator=gen)).to(dtype)
    weight = (torch.randn(cout, cin // g, k, k, generator=gen) / (cin // g * k * k) ** 0.5).to(dtype)
    bias = torch.randn(cout, generator=gen).to(dtype)
    out_h = (h + 2 * p - d * (k - 1) - 1) // s + 1
    out_w = (w + 2 * p - d * (k - 1) - 1) // s + 1
    res = torch.randn(batch, cout, out_h, out_w, generator=gen).to(dtype) if residual else None
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
        res = res.contiguous(memory_format=torch.channels_last) if res is not None else None
    elif layout == "strided":  # a non-contiguous view, as slicing a bigger tensor gives
        x = torch.cat([x, x], dim=3)[..., ::2]
        res = torch.cat([res, res], dim=3)[..., ::2] if res is not None else None
    return x, weight, bias, (s, s), (p, p), (d, d), g, res


def _check(args, act, dtype):
    x, weight, bias, stride, padding, dilation, groups, res = args
    out = cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, res, act)
    # The reference runs on the CPU: ATen's CUDA hardsigmoid/hardswish scale by a float 1/6 even
    # in float64 (seen on an H200: 3e-8 off), which would fail a correct fp64 kernel.
    cpu = [t.cpu() if isinstance(t, torch.Tensor) else t for t in (x, weight, bias, res)]
    ref = reference(cpu[0].double(), cpu[1].double(), cpu[2].double(), stride, padding, dilation, groups,
                    cpu[3].double() if res is not None else None, act).to(out.device)
    assert out.dtype == dtype and out.shape == ref.shape
    err = rel_err(out, ref)
    assert err <= TOLERANCE[dtype], f"relative error {err:.2e} > {TOLERANCE[dtype]:.0e}"
    # Layout contract: the output keeps x's layout (single-channel images count as channels_last).
    fmt = output_memory_format(x)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        assert fmt == torch.channels_last
    if not x.is_contiguous(memory_format=torch.channels_last):
        assert fmt == torch.contiguous_format
    assert out.is_contiguous(memory_format=fmt)
    return out


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "strided"])
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
def test_fp32_matches_reference(shape, batch, layout, residual):
    # Cycle through activations so every one meets every layout and residual setting.
    act = ACTIVATIONS[(SHAPES.index(shape) + batch) % len(ACTIVATIONS)]
    _check(_inputs(shape, batch, torch.float32, layout, residual), act, torch.float32)


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_every_activation(act, residual, layout):
    _check(_inputs(SHAPES[3], 2, torch.float32, layout, residual), act, torch.float32)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("shape", [SHAPES[3], SHAPES[7], SHAPES[8]], ids=["3x3", "grouped", "depthwise"])
def test_other_dtypes(dtype, layout, shape):
    _check(_inputs(shape, 2, dtype, layout, True), "relu", dtype)


def test_no_bias_and_broadcast_residual():
    x, w, _, s, p, d, g, _ = _inputs(SHAPES[3], 2, torch.float32, "channels_last", False)
    res = torch.randn(1, w.shape[0], 1, 1)  # broadcasts over batch and space
    out = cnnfast.ops.conv2d_bias_act(x, w, None, s, p, d, g, res, "relu6")
    ref = reference(x, w, None, s, p, d, g, res, "relu6")
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


def test_empty_batch_like_eager():
    x = torch.randn(0, 4, 8, 8)
    w = torch.randn(6, 4, 3, 3)
    out = cnnfast.ops.conv2d_bias_act(x, w, torch.randn(6), 1, 1, 1, 1, None, "relu")
    assert out.shape == torch.nn.functional.conv2d(x, w, padding=1).shape == (0, 6, 8, 8)


def test_cached_weights_follow_inplace_updates():
    # The oneDNN path caches a reordered copy of each weight: changing the weight must show.
    x, w, b, s, p, d, g, _ = _inputs(SHAPES[3], 1, torch.float32, "channels_last", False)
    first = cnnfast.ops.conv2d_bias_act(x, w, b, s, p, d, g, None, "none")
    with torch.no_grad():
        w.mul_(2.0)
    second = cnnfast.ops.conv2d_bias_act(x, w, b, s, p, d, g, None, "none")
    ref = reference(x, w, b, s, p, d, g, None, "none")
    assert rel_err(second, ref) <= TOLERANCE[torch.float32]
    assert not torch.allclose(first, second)


def test_batch_size_change_reuses_nothing_wrong():
    x, w, b, s, p, d, g, _ = _inputs(SHAPES[5], 1, torch.float32, "channels_last", False)
    for batch in (1, 4, 1, 2):
        xb = x.expand(batch, -1, -1, -1).contiguous(memory_format=torch.channels_last)
        out = cnnfast.ops.conv2d_bias_act(xb, w, b, s, p, d, g, None, "relu")
        assert rel_err(out, reference(xb, w, b, s, p, d, g, None, "relu")) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
def test_opcheck(layout, residual):
    x, w, b, s, p, d, g, res = _inputs(SHAPES[4], 2, torch.float32, layout, residual)
    torch.library.opcheck(torch.ops.cnnfast.conv2d_bias_act.default,
                          (x, w, b, list(s), list(p), list(d), g, res, "relu"))


def test_opcheck_depthwise_no_bias():
    x, w, _, s, p, d, g, _ = _inputs(SHAPES[8], 1, torch.float32, "channels_last", False)
    torch.library.opcheck(torch.ops.cnnfast.conv2d_bias_act.default,
                          (x, w, None, list(s), list(p), list(d), g, None, "hardswish"))


def test_inference_only():
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    w = torch.randn(4, 4, 3, 3)
    with pytest.raises(RuntimeError, match="inference-only"):
        cnnfast.ops.conv2d_bias_act(x, w, None, 1, 1, 1, 1, None, "relu")
    with torch.no_grad():  # the same call without gradients is fine
        cnnfast.ops.conv2d_bias_act(x, w, None, 1, 1, 1, 1, None, "relu")


BAD_INPUTS = [
    (dict(x=torch.randn(4, 8, 8)), ValueError, "x must be 4-D"),
    (dict(x=torch.randint(0, 3, (1, 4, 8, 8))), TypeError, "floating"),
    (dict(w=torch.randn(4, 4, 3)), ValueError, "weight must be 4-D"),
    (dict(w=torch.randn(4, 3, 3, 3)), ValueError, "x has 4 channels but weight expects 3"),
    (dict(w=torch.randn(4, 4, 3, 3, dtype=torch.float64)), TypeError, "weight dtype"),
    (dict(b=torch.randn(5)), ValueError, "bias must have shape"),
    (dict(groups=3), ValueError, "not divisible by groups=3"),
    (dict(groups=0), ValueError, "groups must be >= 1"),
    (dict(stride=(0, 1)), ValueError, "stride must be >= 1"),
    (dict(padding=(-1, 0)), ValueError, "padding must be >= 0"),
    (dict(x=torch.randn(1, 4, 2, 2), padding=(0, 0)), ValueError, "smaller than the dilated kernel"),
    (dict(res=torch.randn(1, 4, 9, 9)), ValueError, "does not broadcast"),
    (dict(act="gelu"), ValueError, "act must be one of"),
]


@pytest.mark.parametrize("change,error,message", BAD_INPUTS, ids=[m for _, _, m in BAD_INPUTS])
def test_bad_input_is_a_clear_error(change, error, message):
    args = dict(x=torch.randn(1, 4, 8, 8), w=torch.randn(4, 4, 3, 3), b=torch.randn(4), stride=(1, 1),
                padding=(1, 1), groups=1, res=None, act="relu")
    args.update(change)
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.conv2d_bias_act(args["x"], args["w"], args["b"], list(args["stride"]),
                                          list(args["padding"]), [1, 1], args["groups"], args["res"],
                                          args["act"])


def test_cpp_entry_point_matches_python_wrapper():
    # The C++ API (cnnfast::conv2d_bias_act in ops.h) and Python reach the same kernel;
    # TorchScript calls through the dispatcher like C++ does.
    @torch.jit.script
    def scripted(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.ops.cnnfast.conv2d_bias_act(x, w, b, [1, 1], [1, 1], [1, 1], 1, None, "relu")

    x, w, b = torch.randn(2, 4, 8, 8), torch.randn(6, 4, 3, 3), torch.randn(6)
    torch.testing.assert_close(scripted(x, w, b), cnnfast.ops.conv2d_bias_act(x, w, b, 1, 1, 1, 1, None, "relu"))


# The C++/CUDA kernel (cuDNN conv + cnnfast's epilogue kernel), on the GPU where there is one.
# One test loops over the cases (and names every failing one), so a CPU-only run shows one skip.
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (benchmarks/gpu_check.sh runs it)")


def _check_all(cases):
    failures = []
    for label, args, act, dtype in cases:
        try:
            assert _check([t.cuda() if isinstance(t, torch.Tensor) else t for t in args], act, dtype).is_cuda
        except AssertionError as e:
            failures.append(f"{label}: {e}")
    assert not failures, "\n".join(failures)


@needs_cuda
def test_cuda_matches_reference():
    _check_all((f"{shape} {layout} residual={residual}", _inputs(shape, batch, torch.float32, layout, residual),
                ACTIVATIONS[(SHAPES.index(shape) + batch) % len(ACTIVATIONS)], torch.float32)
               for shape in SHAPES for batch in (1, 3) for layout in ("nchw", "channels_last", "strided")
               for residual in (False, True))


@needs_cuda
def test_cuda_other_dtypes_and_activations():
    _check_all((f"{dtype} {layout} {act} batch={batch} {shape}", _inputs(shape, batch, dtype, layout, True), act, dtype)
               for dtype in (torch.float64, torch.bfloat16, torch.float16) for layout in ("nchw", "channels_last")
               for act in ACTIVATIONS for batch in (1, 3) for shape in (SHAPES[3], SHAPES[7], SHAPES[8]))


# The Triton implementation (cnnfast/triton/conv2d_bias_act.py): under the interpreter here, on
# the GPU where there is one. conv="cudnn" is ATen's conv + the Triton epilogue; conv="triton"
# the implicit-GEMM kernel with the epilogue fused (groups=1).
TRITON_DEVICES = [d for d, b in DEVICE_BACKENDS if b == "triton"]
DENSE_SHAPES = [s for s in SHAPES if s[6] == 1]


@pytest.mark.parametrize("device", TRITON_DEVICES)
@pytest.mark.parametrize("conv", ["cudnn", "triton"])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("shape", DENSE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_triton_matches_reference(shape, layout, conv, device):
    from cnnfast.triton.conv2d_bias_act import conv2d_bias_act as triton_conv

    x, w, b, s, p, d, g, res = (t.to(device) if isinstance(t, torch.Tensor) else t
                                for t in _inputs(shape, 2, torch.float32, layout, True))
    act = ACTIVATIONS[SHAPES.index(shape) % len(ACTIVATIONS)]
    out = triton_conv(x, w, b, s, p, d, g, res, act, conv=conv)
    ref = reference(x.double(), w.double(), b.double(), s, p, d, g, res.double(), act)
    assert out.is_contiguous(memory_format=output_memory_format(x))
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("device", TRITON_DEVICES)
@pytest.mark.parametrize("conv", ["cudnn", "triton"])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_triton_writes_into_a_concat_slice(layout, conv, device):
    # An Inception branch writing its channels straight into the block's output buffer.
    from cnnfast.triton.conv2d_bias_act import conv2d_bias_act as triton_conv

    x, w, b, s, p, d, g, _ = (t.to(device) if isinstance(t, torch.Tensor) else t
                              for t in _inputs(SHAPES[3], 2, torch.float32, layout, False))
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    buf = torch.full((2, 40, 14, 14), 7.0, device=device).contiguous(memory_format=fmt)
    triton_conv(x, w, b, s, p, d, g, None, "relu", out=buf[:, 8:32], conv=conv)
    ref = reference(x.double(), w.double(), b.double(), s, p, d, g, None, "relu")
    assert rel_err(buf[:, 8:32], ref) <= TOLERANCE[torch.float32]
    assert (buf[:, :8] == 7).all() and (buf[:, 32:] == 7).all()  # the rest untouched


@pytest.mark.parametrize("device", TRITON_DEVICES)
@pytest.mark.parametrize("conv", ["cudnn", "triton"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_triton_other_dtypes(dtype, conv, device):
    from cnnfast.triton.conv2d_bias_act import conv2d_bias_act as triton_conv

    x, w, b, s, p, d, g, res = (t.to(device) if isinstance(t, torch.Tensor) else t
                                for t in _inputs(SHAPES[3], 2, dtype, "channels_last", True))
    out = triton_conv(x, w, b, s, p, d, g, res, "relu", conv=conv)
    ref = reference(x.double(), w.double(), b.double(), s, p, d, g, res.double(), "relu")
    assert out.dtype == dtype and rel_err(out, ref) <= TOLERANCE[dtype]
