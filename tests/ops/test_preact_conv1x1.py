"""cnnfast.ops.preact_conv1x1 (BN + ReLU prologue, optional 2x2 average pool, 1x1 conv) against its
reference: inputs that are channel slices of a dense block's buffer, maps large enough to be split
into blocks, odd map sizes under the pool, every activation and dtype, NaN, opcheck, bad input."""

import pytest
import torch

import cnnfast
from cnnfast.ops import ACTIVATIONS
from cnnfast.contracts.layout import preact_memory_format as output_memory_format
from cnnfast.reference import preact_conv1x1 as reference
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")

# (C_in, C_out, H): DenseNet-121 layers (the first and last of blocks 1-4), a transition,
# a map big enough to be split into several blocks at batch 3, odd and tiny sizes.
SHAPES = [(64, 128, 56), (224, 128, 56), (480, 128, 28), (992, 128, 14), (1024, 512, 7), (256, 128, 56),
          (37, 11, 5), (3, 4, 2), (5, 7, 1)]


def _args(batch, shape, dtype=torch.float32, layout="slice", bias=True, seed=0):
    c, c_out, h = shape
    g = torch.Generator().manual_seed(seed)
    # A buffer with more channels than x, as in a dense block: x is its leading channels.
    full = torch.randn(batch, c + 16, h, h, generator=g)
    if layout in ("slice", "channels_last"):
        full = full.contiguous(memory_format=torch.channels_last)
    x = full[:, :c] if layout in ("slice", "nchw_slice") else full[:, :c].contiguous(
        memory_format=torch.channels_last if layout == "channels_last" else torch.contiguous_format)
    scale = torch.rand(c, generator=g) + 0.5
    shift = 0.5 * torch.randn(c, generator=g)
    w = torch.randn(c_out, c, 1, 1, generator=g) / c ** 0.5
    b = torch.randn(c_out, generator=g) if bias else None
    return tuple(t.to(dtype) if t is not None else None for t in (x, scale, shift, w, b))


def _check(args, act, dtype, pool=1, backend="auto"):
    out = cnnfast.ops.preact_conv1x1(*args, act, pool, backend=backend)
    ref = reference(*(t.cpu().double() if t is not None else None for t in args), act, pool).to(out.device)
    assert out.shape == ref.shape and out.dtype == dtype
    assert out.is_contiguous(memory_format=output_memory_format(args[0], pool))
    err = rel_err(out, ref)
    assert err <= TOLERANCE[dtype], f"relative error {err:.2e}"


@pytest.mark.parametrize("layout", ["slice", "channels_last", "nchw", "nchw_slice"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_fp32_matches_reference(shape, batch, layout):
    act = "relu" if SHAPES.index(shape) % 2 == 0 else "none"  # DenseNet layers / transitions
    _check(_args(batch, shape, layout=layout), act, torch.float32)


# (C_in, C_out, H): DenseNet-121's three transitions, odd maps (the pool drops the last row and
# column), a map the pool turns into 1x1, and one split into several blocks at batch 3.
POOLED = [(256, 128, 56), (512, 256, 28), (1024, 512, 14), (37, 11, 7), (6, 5, 3), (300, 40, 48)]


@pytest.mark.parametrize("layout", ["slice", "channels_last", "nchw"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", POOLED, ids=lambda s: "-".join(map(str, s)))
def test_pool2_matches_reference(shape, batch, layout):
    _check(_args(batch, shape, layout=layout), "none", torch.float32, pool=2)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_pool2_other_dtypes(dtype):
    _check(_args(2, POOLED[3], dtype=dtype), "none", dtype, pool=2)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation(act):
    _check(_args(2, SHAPES[6]), act, torch.float32)
    _check(_args(3, SHAPES[5]), act, torch.float32)  # several blocks


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_other_dtypes(dtype, bias):
    _check(_args(2, SHAPES[1], dtype=dtype, bias=bias), "relu", dtype)


def test_channels_last_slice_output_is_channels_last():
    out = cnnfast.ops.preact_conv1x1(*_args(2, SHAPES[0]), "relu")
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()


def test_nan_propagates():
    x, scale, shift, w, b = _args(1, SHAPES[6])
    x = x.clone()
    x[0, 3, 1, 2] = float("nan")
    out = cnnfast.ops.preact_conv1x1(x, scale, shift, w, b, "relu")
    ref = reference(x, scale, shift, w, b, "relu")
    assert torch.equal(out.isnan(), ref.isnan()) and ref.isnan().any()


def test_empty_batch():
    x, scale, shift, w, b = _args(1, SHAPES[6])
    out = cnnfast.ops.preact_conv1x1(x[:0], scale, shift, w, b, "relu")
    assert out.shape == (0, 11, 5, 5)


@pytest.mark.parametrize("pool", [1, 2])
@pytest.mark.parametrize("layout", ["slice", "nchw"])
def test_opcheck(layout, pool):
    torch.library.opcheck(torch.ops.cnnfast.preact_conv1x1.default,
                          (*_args(2, SHAPES[6], layout=layout), "relu" if pool == 1 else "none", pool))


BAD = [
    (dict(x=torch.randn(8, 5, 5)), ValueError, "4-D"),
    (dict(scale=torch.rand(7)), ValueError, "scale must have shape"),
    (dict(shift=torch.rand(8, 1)), ValueError, "shift must have shape"),
    (dict(w=torch.randn(4, 8, 3, 3)), ValueError, "weight must have shape"),
    (dict(w=torch.randn(4, 9, 1, 1)), ValueError, "weight must have shape"),
    (dict(b=torch.randn(5)), ValueError, "bias must have shape"),
    (dict(w=torch.randn(4, 8, 1, 1, dtype=torch.float64)), TypeError, "weight dtype"),
    (dict(x=torch.randint(0, 3, (1, 8, 5, 5))), TypeError, "floating"),
    (dict(act="gelu"), ValueError, "act must be one of"),
    (dict(pool=3), ValueError, "pool must be 1"),
    (dict(pool=2, x=torch.randn(1, 8, 1, 5)), ValueError, "pool needs a map"),
]


@pytest.mark.parametrize("change,error,message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_a_clear_error(change, error, message):
    a = dict(x=torch.randn(1, 8, 5, 5), scale=torch.rand(8), shift=torch.rand(8), w=torch.randn(4, 8, 1, 1),
             b=torch.randn(4), act="relu", pool=1)
    a.update(change)
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.preact_conv1x1(a["x"], a["scale"], a["shift"], a["w"], a["b"], a["act"], a["pool"])


def test_inference_only():
    x, scale, shift, w, b = _args(1, SHAPES[6])
    w.requires_grad_(True)
    with pytest.raises(RuntimeError, match="inference-only"):
        cnnfast.ops.preact_conv1x1(x, scale, shift, w, b, "relu")


@pytest.mark.parametrize("pool", [1, 2])
@pytest.mark.parametrize("device", sorted({d for d, _ in DEVICE_BACKENDS}))
def test_every_device(device, pool):
    args = _args(2, SHAPES[6] if pool == 1 else POOLED[3])
    out = cnnfast.ops.preact_conv1x1(*(t.to(device) for t in args), "relu", pool)
    ref = reference(*(t.double() for t in args), "relu", pool)
    assert out.device.type == device and rel_err(out.cpu(), ref) <= TOLERANCE[torch.float32]


def test_pool2_equals_a_transitions_order():
    # What fuse_preact_conv relies on: conv -> 2x2 avg pool == avg pool -> conv when no activation
    # follows the conv.
    x, scale, shift, w, b = _args(2, POOLED[0])
    out = cnnfast.ops.preact_conv1x1(x, scale, shift, w, b, "none", 2)
    a = torch.relu(x.double() * scale.double().view(1, -1, 1, 1) + shift.double().view(1, -1, 1, 1))
    ref = torch.nn.functional.avg_pool2d(torch.nn.functional.conv2d(a, w.double(), b.double()), 2)
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


# The Triton kernel (cnnfast/triton/preact_conv1x1.py): under the interpreter here, on the GPU there.
TRITON_DEVICES = [d for d, b in DEVICE_BACKENDS if b == "triton"]
SMALL = [(37, 11, 5), (3, 4, 2), (5, 7, 1), (70, 40, 6)]


def _on(device, args):
    return tuple(t.to(device) if t is not None else None for t in args)


@pytest.mark.parametrize("device", TRITON_DEVICES)
@pytest.mark.parametrize("layout", ["slice", "channels_last", "nchw", "nchw_slice"])
@pytest.mark.parametrize("shape,pool", [(s, p) for s in SMALL for p in (1, 2) if s[2] >= p],  # a 1x1 map has no 2x2 pool
                         ids=lambda v: "-".join(map(str, v)) if isinstance(v, tuple) else f"pool{v}")
def test_triton_matches_reference(shape, pool, layout, device):
    act = ACTIVATIONS[(SMALL.index(shape) + pool) % len(ACTIVATIONS)]
    _check(_on(device, _args(2, shape, layout=layout, bias=SMALL.index(shape) != 1)), act, torch.float32, pool,
           backend="triton")


@pytest.mark.parametrize("device", TRITON_DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("pool", [1, 2])
def test_triton_other_dtypes(dtype, pool, device):
    _check(_on(device, _args(1, SMALL[3], dtype)), "relu", dtype, pool, backend="triton")


@pytest.mark.parametrize("device", TRITON_DEVICES)
def test_triton_nan_propagates(device):
    x, scale, shift, w, b = _args(1, SMALL[0])
    x[0, 2, 1, 1] = float("nan")
    out = cnnfast.ops.preact_conv1x1(*_on(device, (x, scale, shift, w, b)), "none", 1, backend="triton")
    ref = reference(x, scale, shift, w, b, "none", 1)
    assert torch.equal(out.cpu().isnan(), ref.isnan()) and out.cpu().isnan().any()
