"""cnnfast.ops.se_scale (C++, CUDA and Triton kernels) against its reference, opcheck, bad input."""

import pytest
import torch

import cnnfast
from cnnfast.ops import ACTIVATIONS
from cnnfast.contracts.layout import elementwise_memory_format as output_memory_format
from cnnfast.reference import se_scale as reference
from cnnfast.testing import to_layout
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err

# (C, H, W): SE-ResNet-50's four stages, MobileNetV3/EfficientNet SE maps, odd and tiny maps.
SHAPES = [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7), (72, 28, 28), (40, 13, 11),
          (37, 1, 1), (3, 1, 9), (17, 2, 3)]
CASES = [(shape, dev, be) for shape in SHAPES for dev, be in DEVICE_BACKENDS
         if not (be == "triton" and dev == "cpu" and shape[0] * shape[1] * shape[2] > 100_000)]


def _args(batch, shape, dtype, layout, residual, device="cpu", gate_4d=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(batch, *shape, generator=g)
    gate = torch.rand(batch, shape[0], generator=g)  # a sigmoid's range
    if gate_4d:
        gate = gate[:, :, None, None]
    res = 3 * torch.randn(batch, *shape, generator=g) if residual else None
    x = to_layout(x.to(dtype), layout).to(device)
    res = to_layout(res.to(dtype), layout).to(device) if residual else None
    return x, gate.to(dtype).to(device), res


def _check(args, act, dtype, backend, inplace=False):
    x, gate, res = args
    ref = reference(x.double(), gate.double(), res.double() if res is not None else None, act)
    if inplace:
        strides = x.stride()
        out = cnnfast.ops.se_scale_(x, gate, res, act, backend=backend)
        assert out is x and x.stride() == strides  # written over x, whatever its strides
    else:
        out = cnnfast.ops.se_scale(x, gate, res, act, backend=backend)
        assert out.is_contiguous(memory_format=output_memory_format(x))
    assert out.shape == x.shape and out.dtype == dtype
    err = rel_err(out, ref)
    assert err <= TOLERANCE[dtype], f"relative error {err:.2e}"


@pytest.mark.parametrize("inplace", [False, True], ids=["se_scale", "se_scale_"])
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "strided"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape,device,backend", CASES, ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else v)
def test_fp32_matches_reference(shape, batch, layout, residual, inplace, device, backend):
    # SE-ResNet fuses add + ReLU; the others cycle through every activation.
    act = "relu" if residual else ACTIVATIONS[(SHAPES.index(shape) + batch) % len(ACTIVATIONS)]
    _check(_args(batch, shape, torch.float32, layout, residual, device), act, torch.float32, backend, inplace)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("inplace", [False, True], ids=["se_scale", "se_scale_"])
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_every_activation(act, layout, inplace, device, backend):
    _check(_args(2, (40, 13, 11), torch.float32, layout, True, device), act, torch.float32, backend, inplace)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("inplace", [False, True], ids=["se_scale", "se_scale_"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_other_dtypes(dtype, layout, inplace, device, backend):
    _check(_args(2, (72, 28, 28), dtype, layout, True, device), "relu", dtype, backend, inplace)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
def test_inplace_with_x_as_its_own_residual(device, backend):
    x, gate, _ = _args(2, (40, 13, 11), torch.float32, "channels_last", False, device)
    ref = reference(x.double(), gate.double(), x.double(), "relu")
    out = cnnfast.ops.se_scale_(x, gate, x, "relu", backend=backend)
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
def test_4d_gate_and_mixed_layouts(device, backend):
    x, gate, _ = _args(2, (40, 13, 11), torch.float32, "channels_last", False, device, gate_4d=True)
    res = torch.randn(x.shape, device=device)  # NCHW residual with a channels_last x
    _check((x, gate, res), "relu", torch.float32, backend)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("act", ["relu", "relu6", "hardsigmoid", "none"])
def test_nan_propagates(act, device, backend):
    x, gate, res = _args(1, (8, 5, 5), torch.float32, "channels_last", True, device)
    x[0, 2, 1, 1] = float("nan")
    res[0, 5, 0, 0] = float("inf")
    out = cnnfast.ops.se_scale(x, gate, res, act, backend=backend)
    torch.testing.assert_close(out, reference(x, gate, res, act), equal_nan=True)


def test_empty_batch():
    x, gate, res = _args(0, (5, 3, 3), torch.float32, "channels_last", True)
    assert cnnfast.ops.se_scale(x, gate, res, "relu").shape == (0, 5, 3, 3)


@pytest.mark.parametrize("op", ["se_scale", "se_scale_"])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
def test_opcheck(op, layout, residual):
    torch.library.opcheck(getattr(torch.ops.cnnfast, op).default,
                          (*_args(2, (40, 13, 11), torch.float32, layout, residual), "relu"))


BAD = [
    (dict(x=torch.randn(4, 5, 5)), ValueError, "x must be 4-D"),
    (dict(x=torch.randint(0, 3, (2, 4, 5, 5))), TypeError, "floating"),
    (dict(gate=torch.randn(2, 5)), ValueError, "gate must have shape"),
    (dict(gate=torch.randn(2, 4, 2, 2)), ValueError, "gate must have shape"),
    (dict(gate=torch.randn(2, 4, dtype=torch.float64)), TypeError, "gate dtype"),
    (dict(res=torch.randn(1, 4, 5, 5)), ValueError, "residual must have x's shape"),
    (dict(act="gelu"), ValueError, "act must be one of"),
]


@pytest.mark.parametrize("change,error,message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_a_clear_error(change, error, message):
    args = dict(x=torch.randn(2, 4, 5, 5), gate=torch.rand(2, 4), res=None, act="relu")
    args.update(change)
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.se_scale(args["x"], args["gate"], args["res"], args["act"])


def test_inference_only():
    x = torch.randn(1, 4, 5, 5, requires_grad=True)
    with pytest.raises(RuntimeError, match="se_scale is inference-only"):
        cnnfast.ops.se_scale(x, torch.rand(1, 4))
    with pytest.raises(RuntimeError, match="se_scale_ is inference-only"):
        cnnfast.ops.se_scale_(x, torch.rand(1, 4))
