"""cnnfast.ops.se_squeeze (C++, CUDA and Triton kernels) against its reference, opcheck, bad input."""

import pytest
import torch

import cnnfast
from cnnfast.reference import se_squeeze as reference
from cnnfast.testing import to_layout
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err

# (C, H, W): SE-ResNet-50's four stages, MobileNetV3/EfficientNet SE inputs, odd and tiny maps.
SHAPES = [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7), (72, 28, 28), (40, 13, 11),
          (37, 1, 1), (3, 1, 9), (17, 2, 3)]
# The Triton interpreter is slow: on the CPU it takes the maps up to 100k values.
CASES = [(shape, dev, be) for shape in SHAPES for dev, be in DEVICE_BACKENDS
         if not (be == "triton" and dev == "cpu" and shape[0] * shape[1] * shape[2] > 100_000)]


def _x(batch, shape, dtype, layout, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    # An offset makes the mean small relative to the values: summation error then shows.
    x = torch.randn(batch, *shape, generator=g) + 0.5
    return to_layout(x.to(dtype), layout).to(device)


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "strided"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape,device,backend", CASES, ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else v)
def test_fp32_matches_reference(shape, batch, layout, device, backend):
    x = _x(batch, shape, torch.float32, layout, device)
    out = cnnfast.ops.se_squeeze(x, backend=backend)
    ref = reference(x.double())
    assert out.shape == (batch, shape[0]) and out.dtype == torch.float32 and out.is_contiguous()
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_other_dtypes(dtype, layout, device, backend):
    x = _x(2, (72, 28, 28), dtype, layout, device)
    out = cnnfast.ops.se_squeeze(x, backend=backend)
    assert out.dtype == dtype
    assert rel_err(out, reference(x.double())) <= TOLERANCE[dtype]


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
def test_nan_and_inf_propagate(device, backend):
    x = _x(1, (8, 5, 5), torch.float32, "channels_last", device)
    x[0, 2, 1, 1] = float("nan")
    x[0, 5, 0, 0] = float("inf")
    torch.testing.assert_close(cnnfast.ops.se_squeeze(x, backend=backend), reference(x), equal_nan=True)


def test_empty_batch():
    assert cnnfast.ops.se_squeeze(torch.randn(0, 5, 3, 3)).shape == (0, 5)


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_opcheck(layout):
    torch.library.opcheck(torch.ops.cnnfast.se_squeeze.default, (_x(2, (40, 13, 11), torch.float32, layout),))


@pytest.mark.parametrize("x,error,message", [
    (torch.randn(4, 5, 5), ValueError, "must be 4-D"),
    (torch.randint(0, 3, (1, 4, 5, 5)), TypeError, "floating"),
    (torch.randn(1, 4, 0, 5), ValueError, "empty H x W"),
], ids=["3d", "int", "empty-map"])
def test_bad_input_is_a_clear_error(x, error, message):
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.se_squeeze(x)


def test_inference_only():
    x = torch.randn(1, 4, 5, 5, requires_grad=True)
    with pytest.raises(RuntimeError, match="se_squeeze is inference-only"):
        cnnfast.ops.se_squeeze(x)
    with torch.no_grad():
        cnnfast.ops.se_squeeze(x)
