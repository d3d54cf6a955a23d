"""cnnfast.ops.se_excite (C++, CUDA and Triton kernels) against its reference, opcheck, bad input."""

import itertools

import pytest
import torch

import cnnfast
from cnnfast.ops import ACTIVATIONS
from cnnfast.reference import se_excite as reference
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err

# (C, R): SE-ResNet-50 (reduction 16), MobileNetV3 / EfficientNet / RegNetY SE widths, odd sizes.
WIDTHS = [(256, 16), (2048, 128), (72, 24), (960, 240), (96, 4), (37, 5), (3, 1), (5000, 312)]
# (act1, act2) of the real SE blocks, then every activation in either place.
REAL_ACTS = [("relu", "sigmoid"), ("relu", "hardsigmoid"), ("silu", "sigmoid")]
ACT_PAIRS = REAL_ACTS + [(a, b) for a, b in zip(ACTIVATIONS, reversed(ACTIVATIONS))]


def _args(batch, c, r, dtype=torch.float32, bias=True, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(batch, c, generator=g)
    w1 = torch.randn(r, c, generator=g) * (3 / c) ** 0.5  # hidden values reach past the kinks
    w2 = torch.randn(c, r, generator=g) * (3 / r) ** 0.5
    b1 = torch.randn(r, generator=g) if bias else None
    b2 = torch.randn(c, generator=g) if bias else None
    move = lambda t: t.to(dtype).to(device) if t is not None else None  # noqa: E731
    return tuple(move(t) for t in (s, w1, b1, w2, b2))


def _check(args, acts, dtype, backend):
    out = cnnfast.ops.se_excite(*args, *acts, backend=backend)
    ref = reference(*(t.double() if t is not None else None for t in args), *acts)
    assert out.shape == args[0].shape and out.dtype == dtype and out.is_contiguous()
    err = rel_err(out, ref)
    assert err <= TOLERANCE[dtype], f"relative error {err:.2e}"


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("width", WIDTHS, ids=lambda w: f"{w[0]}-{w[1]}")
def test_fp32_matches_reference(width, batch, device, backend):
    acts = REAL_ACTS[WIDTHS.index(width) % len(REAL_ACTS)]
    _check(_args(batch, *width, device=device), acts, torch.float32, backend)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("acts", ACT_PAIRS, ids="-".join)
def test_every_activation(acts, device, backend):
    _check(_args(2, 72, 24, device=device), acts, torch.float32, backend)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("dtype,bias", itertools.product([torch.float64, torch.bfloat16, torch.float16], [True, False]))
def test_other_dtypes_and_no_bias(dtype, bias, device, backend):
    _check(_args(3, 96, 8, dtype, bias, device), ("relu", "sigmoid"), dtype, backend)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
def test_nan_propagates(device, backend):
    args = list(_args(2, 16, 4, device=device))
    args[0][1, 3] = float("nan")
    out = cnnfast.ops.se_excite(*args, "relu", "sigmoid", backend=backend)
    assert out[1].isnan().all() and not out[0].isnan().any()


def test_empty_batch():
    assert cnnfast.ops.se_excite(*_args(0, 16, 4), "relu", "sigmoid").shape == (0, 16)


@pytest.mark.parametrize("bias", [True, False])
def test_opcheck(bias):
    torch.library.opcheck(torch.ops.cnnfast.se_excite.default, (*_args(2, 64, 4, bias=bias), "silu", "sigmoid"))


BAD = [
    (0, torch.randn(4, 16, 1), ValueError, "s must be 2-D"),
    (1, torch.randn(4, 15), ValueError, "w1 must have shape"),
    (3, torch.randn(16, 5), ValueError, "w2 must have shape"),
    (2, torch.randn(5), ValueError, "b1 must have shape"),
    (4, torch.randn(15), ValueError, "b2 must have shape"),
    (1, torch.randn(4, 16, dtype=torch.float64), TypeError, "w1 dtype"),
    (0, torch.randint(0, 3, (2, 16)), TypeError, "floating"),
]


@pytest.mark.parametrize("index,value,error,message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_a_clear_error(index, value, error, message):
    args = list(_args(2, 16, 4))
    args[index] = value
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.se_excite(*args, "relu", "sigmoid")


def test_bad_activation():
    with pytest.raises(ValueError, match="act must be one of"):
        torch.ops.cnnfast.se_excite(*_args(2, 16, 4), "gelu", "sigmoid")


def test_inference_only():
    args = list(_args(1, 16, 4))
    args[1].requires_grad_(True)
    with pytest.raises(RuntimeError, match="se_excite is inference-only"):
        cnnfast.ops.se_excite(*args)
