"""cnnfast.ops.linear_bias_act against its reference (every CPU path: row-streaming up to batch 4,
and without AVX-512 up to 64 where K >= 256; fp32 batches 5-64 on the brgemm microkernel with the
weight packed once; MKL otherwise), opcheck, bad input."""

import pytest
import torch

import cnnfast
from cnnfast.ops import ACTIVATIONS
from cnnfast.reference import linear_bias_act as reference
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err

# (K, M): ResNet-50, MobileNetV3 and AlexNet/VGG-style heads (reduced), SE widths, odd sizes;
# 5000 inputs span two of the streaming kernel's k tiles (4096) and end in a partial vector, and
# output counts that are not multiples of its 4-row blocks leave a remainder.
WIDTHS = [(2048, 1000), (960, 1280), (1280, 1000), (4096, 512), (5000, 21), (256, 16), (37, 5), (3, 1),
          (17, 130)]
# Streaming kernel: every batch up to 4; brgemm 5-64 (fp32; other dtypes stream up to 64 where
# K >= 256); MKL above. Output counts 130 and 1000 end in part-filled 64-column blocks.
BATCHES = [1, 2, 4, 5, 17, 64, 65]


def _args(batch, k, m, dtype=torch.float32, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, k, generator=g).to(dtype)
    w = (torch.randn(m, k, generator=g) * (3 / k) ** 0.5).to(dtype)  # outputs reach past the kinks
    b = torch.randn(m, generator=g).to(dtype) if bias else None
    return x, w, b


def _check(args, act, dtype, backend="auto"):
    out = cnnfast.ops.linear_bias_act(*args, act, backend=backend)
    ref = reference(*(t.double() if t is not None else None for t in args), act)
    assert out.shape == ref.shape and out.dtype == dtype and out.is_contiguous()
    err = rel_err(out, ref)
    assert err <= TOLERANCE[dtype], f"relative error {err:.2e}"


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("width", WIDTHS, ids=lambda w: f"{w[0]}-{w[1]}")
def test_fp32_matches_reference(width, batch, kernel_level):
    act = ACTIVATIONS[(WIDTHS.index(width) + batch) % len(ACTIVATIONS)]
    _check(_args(batch, *width), act, torch.float32)


@pytest.mark.parametrize("batch", [5, 17, 64])
@pytest.mark.parametrize("width", [w for w in WIDTHS if w[0] >= 256], ids=lambda w: f"{w[0]}-{w[1]}")
def test_fp32_without_avx512_streams_from_256_inputs(width, batch, kernel_level):
    # Routed as without AVX-512, 5-64 rows of 256+ inputs take the streaming kernel, not brgemm
    # (linear_cpu.cpp): on an AVX-512 machine the rule above never sends it more than 4 rows.
    from cnnfast import config

    act = ACTIVATIONS[(WIDTHS.index(width) + batch) % len(ACTIVATIONS)]
    with config.route_avx512(False):
        _check(_args(batch, *width), act, torch.float32)


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation(act, batch):
    _check(_args(batch, 96, 40), act, torch.float32)


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_other_dtypes_and_no_bias(dtype, bias, batch):
    _check(_args(batch, 96, 40, dtype, bias), "relu", dtype)


@pytest.mark.parametrize("batch", [1, 8])
def test_nan_propagates(batch, kernel_level):
    x, w, b = _args(batch, 32, 8)
    x[0, 3] = float("nan")
    out = cnnfast.ops.linear_bias_act(x, w, b, "relu")
    assert out[0].isnan().all() and not out[1:].isnan().any()


@pytest.mark.parametrize("batch", [2, 8])
def test_weight_change_is_seen(batch):
    """The brgemm path packs the weight once and keeps it: an in-place change must repack it."""
    x, w, b = _args(batch, 96, 130)
    first = cnnfast.ops.linear_bias_act(x, w, b, "none")
    with torch.no_grad():
        w.mul_(-2)
    _check((x, w, b), "none", torch.float32)
    assert not torch.allclose(first, cnnfast.ops.linear_bias_act(x, w, b, "none"))


def test_non_contiguous_input():
    x, w, b = _args(3, 64, 10)
    xt = torch.cat([x, x], 1)[:, ::2]
    _check((xt, w, b), "relu6", torch.float32)


def test_empty_batch():
    x, w, b = _args(0, 16, 4)
    assert cnnfast.ops.linear_bias_act(x, w, b, "relu").shape == (0, 4)


@pytest.mark.parametrize("batch", [1, 8])
def test_opcheck(batch):
    torch.library.opcheck(torch.ops.cnnfast.linear_bias_act.default, (*_args(batch, 64, 24), "hardswish"))


BAD = [
    (dict(x=torch.randn(2, 3, 16)), ValueError, "x must be 2-D"),
    (dict(w=torch.randn(4, 15)), ValueError, "weight must have shape"),
    (dict(b=torch.randn(5)), ValueError, "bias must have shape"),
    (dict(w=torch.randn(4, 16, dtype=torch.float64)), TypeError, "weight dtype"),
    (dict(x=torch.randint(0, 3, (2, 16))), TypeError, "floating"),
    (dict(act="gelu"), ValueError, "act must be one of"),
]


@pytest.mark.parametrize("change,error,message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_a_clear_error(change, error, message):
    args = dict(x=torch.randn(2, 16), w=torch.randn(4, 16), b=torch.randn(4), act="relu")
    args.update(change)
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.linear_bias_act(args["x"], args["w"], args["b"], args["act"])


def test_inference_only():
    x, w, b = _args(1, 16, 4)
    w.requires_grad_(True)
    with pytest.raises(RuntimeError, match="linear_bias_act is inference-only"):
        cnnfast.ops.linear_bias_act(x, w, b, "relu")


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("width", [(2048, 1000), (37, 5), (17, 130)], ids=lambda w: f"{w[0]}-{w[1]}")
def test_every_backend(width, batch, device, backend):
    args = tuple(t.to(device) for t in _args(batch, *width))
    _check(args, "hardswish", torch.float32, backend)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_every_backend_other_dtypes(dtype, device, backend):
    args = tuple(t.to(device) for t in _args(3, 96, 40, dtype))
    _check(args, "relu", dtype, backend)
