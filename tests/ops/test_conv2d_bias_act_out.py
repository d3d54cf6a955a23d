"""cnnfast.ops.conv2d_bias_act_out: writes exactly its slice of a concat buffer (C++ and Triton),
matches the reference, leaves the neighbours alone, opcheck, and bad input."""

import pytest
import torch

import cnnfast
from cnnfast.ops import ACTIVATIONS
from cnnfast.reference import conv2d_bias_act as reference
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")

# (C_in, C_out, kernel, stride, padding, H): GoogLeNet branch convs, a DenseNet growth conv, odd sizes.
CONVS = [(192, 64, 1, 1, 0, 28), (96, 128, 3, 1, 1, 28), (128, 32, 3, 1, 1, 14), (16, 24, 5, 1, 2, 12),
         (7, 5, 3, 2, 1, 9), (3, 8, 1, 1, 0, 1)]
SENTINEL = 1234.5  # what the buffer holds outside the slice; must survive


def _conv(c_in, c_out, k, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(c_out, c_in, k, k, generator=g) / (c_in * k * k) ** 0.5
    return w.to(dtype), torch.randn(c_out, generator=g).to(dtype)


def _buffer(batch, channels, h, w, layout, dtype, device="cpu"):
    buf = torch.full((batch, channels, h, w), SENTINEL, dtype=dtype, device=device)
    return buf.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else buf


def _run(batch, conv, layout, act, dtype=torch.float32, residual=False, offset=5, extra=3, backend="auto",
         device="cpu"):
    c_in, c_out, k, s, p, h = conv
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, c_in, h, h, generator=g).to(dtype)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    x = x.to(device)
    w, b = (t.to(device) for t in _conv(c_in, c_out, k, dtype))
    h_out = (h + 2 * p - k) // s + 1
    res = torch.randn(batch, c_out, h_out, h_out, generator=g).to(dtype).to(device) if residual else None
    buf = _buffer(batch, offset + c_out + extra, h_out, h_out, layout, dtype, device)
    out = buf[:, offset:offset + c_out]
    got = cnnfast.ops.conv2d_bias_act_out(x, w, b, s, p, 1, 1, res, act, out=out, backend=backend)
    assert got is out
    ref = reference(x.double(), w.double(), b.double(), (s, s), (p, p), (1, 1), 1,
                    res.double() if res is not None else None, act)
    err = rel_err(out, ref)
    assert err <= TOLERANCE[dtype], f"relative error {err:.2e}"
    assert (buf[:, :offset] == SENTINEL).all() and (buf[:, offset + c_out:] == SENTINEL).all(), \
        "wrote outside its slice"


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("conv", CONVS, ids=lambda c: "-".join(map(str, c)))
def test_writes_its_slice(conv, batch, layout):
    act = ACTIVATIONS[CONVS.index(conv) % len(ACTIVATIONS)]
    _run(batch, conv, layout, act)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation_with_residual(act):
    _run(2, CONVS[2], "channels_last", act, residual=True)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_other_dtypes(dtype):
    _run(2, CONVS[1], "channels_last", "relu", dtype=dtype)


@pytest.mark.parametrize("offset,extra", [(0, 0), (0, 9), (9, 0)], ids=["whole", "first", "last"])
def test_slice_position(offset, extra):
    _run(2, CONVS[0], "channels_last", "relu", offset=offset, extra=extra)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("conv", [CONVS[3], CONVS[4]], ids=lambda c: "-".join(map(str, c)))
def test_every_backend(conv, layout, device, backend):
    _run(2, conv, layout, "relu", residual=True, backend=backend, device=device)


def test_nan_propagates_like_eager():
    x = torch.randn(1, 4, 6, 6).contiguous(memory_format=torch.channels_last)
    x[0, 1, 2, 3] = float("nan")
    w, b = _conv(4, 6, 3)
    buf = _buffer(1, 10, 6, 6, "channels_last", torch.float32)
    cnnfast.ops.conv2d_bias_act_out(x, w, b, 1, 1, out=buf[:, 2:8], act="relu")
    ref = torch.relu(torch.nn.functional.conv2d(x, w, b, padding=1))
    assert torch.equal(buf[:, 2:8].isnan(), ref.isnan()) and ref.isnan().any()


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("act", ["relu", "relu6", "hardsigmoid"])
def test_onednn_route_applies_the_activation_in_its_copy(act, layout):
    # oneDNN's ReLU-like post-ops lose NaN, so that route runs the activation as a pass of its own;
    # into a slice, the copy is that pass: NaN and Inf as eager gives them, one pass, no other.
    x = torch.randn(2, 16, 9, 9)
    x = x.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else x
    x[0, 1, 2, 3], x[1, 4, 5, 5], x[1, 0, 0, 0] = float("nan"), float("inf"), float("-inf")
    w, b = _conv(16, 24, 3)
    buf = _buffer(2, 31, 9, 9, layout, torch.float32)
    with cnnfast.config.force_conv_path("onednn"), torch.profiler.profile() as prof:
        cnnfast.ops.conv2d_bias_act_out(x, w, b, 1, 1, out=buf[:, 3:27], act=act)
    ref = reference(x.double(), w.double(), b.double(), (1, 1), (1, 1), (1, 1), 1, None, act).float()
    out = buf[:, 3:27]
    assert torch.equal(out.isnan(), ref.isnan()) and ref.isnan().any()
    assert torch.equal(out.isinf(), ref.isinf()) and torch.equal(out[out.isinf()], ref[ref.isinf()])
    assert rel_err(out[ref.isfinite()], ref[ref.isfinite()]) <= TOLERANCE[torch.float32]
    assert (buf[:, :3] == SENTINEL).all() and (buf[:, 27:] == SENTINEL).all()
    names = {e.name for e in prof.events()}
    assert not names & {"aten::copy_", "aten::relu_", "aten::hardtanh_", "aten::hardsigmoid_"}, names


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_opcheck(layout):
    c_in, c_out, k, s, p, h = CONVS[2]
    x = torch.randn(2, c_in, h, h)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    w, b = _conv(c_in, c_out, k)
    out = _buffer(2, c_out + 4, h, h, layout, torch.float32)[:, 4:]
    torch.library.opcheck(torch.ops.cnnfast.conv2d_bias_act_out.default,
                          (x, w, b, [s, s], [p, p], [1, 1], 1, None, "relu", out))


def _bad_args():
    x = torch.randn(2, 8, 10, 10)
    w, b = _conv(8, 4, 3)
    return dict(x=x, w=w, b=b, out=torch.empty(2, 4, 10, 10))


BAD = [
    (dict(out=torch.empty(2, 5, 10, 10)), ValueError, "out has shape"),
    (dict(out=torch.empty(2, 4, 8, 8)), ValueError, "out has shape"),
    (dict(out=torch.empty(2, 4, 10, 10, dtype=torch.float64)), TypeError, "out dtype"),
    (dict(out=torch.empty(1, 4, 1, 1).expand(2, 4, 10, 10)), ValueError, "overlapping"),
    (dict(w=torch.randn(4, 7, 3, 3)), ValueError, "channels"),
]


@pytest.mark.parametrize("change,error,message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_a_clear_error(change, error, message):
    a = {**_bad_args(), **change}
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.conv2d_bias_act_out(a["x"], a["w"], a["b"], [1, 1], [1, 1], [1, 1], 1, None, "relu",
                                             a["out"])


@pytest.mark.parametrize("batch", [1, 2])
def test_out_overlapping_x_is_refused(batch):
    buf = torch.randn(batch, 16, 10, 10).contiguous(memory_format=torch.channels_last)
    w, b = _conv(8, 8, 3)
    with pytest.raises(ValueError, match="shares memory with x"):
        cnnfast.ops.conv2d_bias_act_out(buf[:, :8], w, b, 1, 1, out=buf[:, 4:12])


@pytest.mark.parametrize("kernel", ["pointwise", "engine", "onednn"])
@pytest.mark.parametrize("batch", [1, 3])
def test_every_cpu_kernel_writes_only_its_slice(kernel, batch):
    # The direct 1x1 kernel and the engine store into the slice; oneDNN computes and copies.
    if kernel == "engine" and not cnnfast.build_info()["conv_engine"]:
        pytest.skip("conv engine not built in or not supported by this CPU")
    with cnnfast.config.force_conv_path(kernel):
        for act in ("relu", "silu"):
            _run(batch, (40, 24, 1, 1, 0, 9), "channels_last", act, residual=True, offset=7, extra=5)
            _run(batch, (19, 33, 1, 1, 0, 6), "channels_last", act, offset=0, extra=3)
            # A weight larger than the pixels' data: the 1x1 kernel's threads split the channels.
            _run(batch, (256, 200, 1, 1, 0, 2), "channels_last", act, residual=True, offset=5, extra=4)


@pytest.mark.parametrize("cpu,kernel", [("amd", "pointwise"), ("intel", "engine")])
def test_a_1x1_into_a_slice_makes_no_copy(cpu, kernel):
    x = torch.randn(2, 192, 28, 28).contiguous(memory_format=torch.channels_last)
    w, b = _conv(192, 64, 1)
    buf = _buffer(2, 64 + 32, 28, 28, "channels_last", torch.float32)
    if kernel == "engine" and not cnnfast.build_info()["conv_engine"]:
        pytest.skip("this torch or CPU has no fp32 brgemm microkernel")
    assert cnnfast.config.conv_path_for(x.shape, w.shape, cpu=cpu) == kernel
    with cnnfast.config.route_as(cpu):
        cnnfast.ops.conv2d_bias_act_out(x, w, b, 1, 0, 1, 1, None, "relu", out=buf[:, 16:80])  # packs the weight
        with torch.profiler.profile() as prof:
            cnnfast.ops.conv2d_bias_act_out(x, w, b, 1, 0, 1, 1, None, "relu", out=buf[:, 16:80])
    assert not [e for e in prof.events() if e.name == "aten::copy_"]
    assert rel_err(buf[:, 16:80], reference(x.double(), w.double(), b.double(), act="relu")) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("c,k,stride,residual",
                         [(32, 3, 1, False), (33, 3, 1, True), (24, 5, 2, True), (40, 3, 2, False)],
                         ids=["pool-32", "odd-33-residual", "5x5-s2-residual", "3x3-s2"])
def test_a_depthwise_conv_writes_its_slice_in_place(c, k, stride, residual, batch):
    # Inception-v3's branch pools run as depthwise convs writing into the block's concat buffer.
    # With 33 channels the last block's lanes past the slice must not reach the neighbours.
    g = torch.Generator().manual_seed(c)
    x = torch.randn(batch, c, 11, 11, generator=g).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(c, 1, k, k, generator=g) / k, torch.randn(c, generator=g)
    pad, ho = k // 2, (11 + 2 * (k // 2) - k) // stride + 1
    res = (torch.randn(batch, c, ho, ho, generator=g).contiguous(memory_format=torch.channels_last)
           if residual else None)
    assert cnnfast.config.conv_path_for(x.shape, w.shape, stride, pad, 1, c) == "depthwise"
    for act in ("relu", "silu"):
        buf = _buffer(batch, 5 + c + 7, ho, ho, "channels_last", torch.float32)
        out = buf[:, 5:5 + c]
        cnnfast.ops.conv2d_bias_act_out(x, w, b, stride, pad, 1, c, res, act, out=out)
        with torch.profiler.profile() as prof:
            cnnfast.ops.conv2d_bias_act_out(x, w, b, stride, pad, 1, c, res, act, out=out)
        assert not [e for e in prof.events() if e.name == "aten::copy_"]
        ref = reference(x.double(), w.double(), b.double(), (stride, stride), (pad, pad), (1, 1), c,
                        None if res is None else res.double(), act)
        assert rel_err(out, ref) <= TOLERANCE[torch.float32]
        assert (buf[:, :5] == SENTINEL).all() and (buf[:, 5 + c:] == SENTINEL).all(), "wrote outside its slice"


def test_disjoint_slices_of_one_buffer_are_fine():
    buf = torch.randn(1, 16, 10, 10)  # NCHW, batch 1: both slices are dense, provably disjoint
    w, b = _conv(8, 8, 3)
    x = buf[:, :8].clone()
    cnnfast.ops.conv2d_bias_act_out(buf[:, :8], w, b, 1, 1, out=buf[:, 8:])
    assert rel_err(buf[:, 8:], reference(x.double(), w.double(), b.double(), (1, 1), (1, 1))) <= 1e-5


def test_inference_only():
    w, b = _conv(8, 4, 3)
    w.requires_grad_(True)
    with pytest.raises(RuntimeError, match="inference-only"):
        cnnfast.ops.conv2d_bias_act_out(torch.randn(1, 8, 6, 6), w, b, 1, 1, out=torch.empty(1, 4, 6, 6))
