"""cnnfast.ops.preact_conv1x1_out: writes exactly its slice of a concat buffer (a DenseNet
transition's output is the first part of the next block's buffer), against the float64 reference,
with and without the 2x2 pool, one block and several (large maps), the conv engine's and oneDNN's
routes, inputs that are slices themselves, NCHW, opcheck, bad input."""

import pytest
import torch

import cnnfast
from cnnfast import config
from cnnfast.reference import preact_conv1x1 as reference
from tests._helpers import TOLERANCE, rel_err

# Routed as with AVX-512 everywhere, so the direct kernels run here on any x86 CPU (conftest.py).
pytestmark = pytest.mark.usefixtures("routed_as_avx512")

SENTINEL = 1234.5  # what the buffer holds outside the slice; must survive
# (C_in, C_out, H, pool): DenseNet-121's transitions (256 -> 128 on 56x56, 512 -> 256 on 28x28), a
# dense layer's bottleneck, odd sizes. Maps split into several blocks of rows: test_each_conv_route.
SHAPES = [(256, 128, 56, 2), (512, 256, 28, 2), (96, 128, 14, 1), (37, 11, 9, 2)]


def _args(batch, c, c_out, h, layout="slice", seed=0):
    g = torch.Generator().manual_seed(seed)
    full = torch.randn(batch, c + 8, h, h, generator=g)
    if layout != "nchw":
        full = full.contiguous(memory_format=torch.channels_last)
    x = full[:, 3:3 + c] if layout == "slice" else full[:, :c].contiguous(
        memory_format=torch.contiguous_format if layout == "nchw" else torch.channels_last)
    scale, shift = torch.rand(c, generator=g) + 0.5, 0.5 * torch.randn(c, generator=g)
    w = torch.randn(c_out, c, 1, 1, generator=g) / c ** 0.5
    return x, scale, shift, w, torch.randn(c_out, generator=g)


def _run(args, act, pool, offset=5, extra=3):
    x, scale, shift, w, b = args
    ref = reference(*(t.double() for t in args), act, pool)
    n, k, h, wd = ref.shape
    buf = torch.full((n, offset + k + extra, h, wd), SENTINEL)
    if x.stride(1) == 1:
        buf = buf.contiguous(memory_format=torch.channels_last)
    out = buf[:, offset:offset + k]
    assert cnnfast.ops.preact_conv1x1_out(x, scale, shift, w, b, act, pool, out=out) is out
    assert rel_err(out, ref) <= TOLERANCE[torch.float32]
    assert (buf[:, :offset] == SENTINEL).all() and (buf[:, offset + k:] == SENTINEL).all(), "wrote outside its slice"


@pytest.mark.parametrize("layout", ["slice", "channels_last", "nchw"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_writes_its_slice(shape, batch, layout):
    c, c_out, h, pool = shape
    _run(_args(batch, c, c_out, h, layout), "relu" if pool == 1 else "none", pool)


@pytest.mark.parametrize("path", ["engine", "onednn"])
@pytest.mark.parametrize("blocks", ["one", "several"])
def test_each_conv_route(path, blocks):
    if path == "engine" and not cnnfast.build_info()["conv_engine"]:
        pytest.skip("this torch or CPU has no fp32 brgemm microkernel")
    h = 112 if blocks == "several" else 28  # at batch 3 and 256 channels: 3 blocks of rows, or one
    with config.force_conv_path(path):
        for act in ("relu", "silu"):
            _run(_args(3, 256, 64, h), act, 2)


def test_opcheck():
    x, scale, shift, w, b = _args(2, 24, 16, 8)
    out = torch.empty(2, 20, 4, 4).contiguous(memory_format=torch.channels_last)[:, 2:18]
    torch.library.opcheck(torch.ops.cnnfast.preact_conv1x1_out.default, (x, scale, shift, w, b, "relu", 2, out))


def _bad_args():
    x, scale, shift, w, b = _args(2, 8, 4, 6)
    return dict(x=x, scale=scale, shift=shift, w=w, b=b, out=torch.empty(2, 4, 3, 3))


BAD = [
    (dict(out=torch.empty(2, 4, 6, 6)), ValueError, "out has shape"),
    (dict(out=torch.empty(2, 4, 3, 3, dtype=torch.float64)), TypeError, "out dtype"),
    (dict(out=torch.empty(1, 4, 1, 1).expand(2, 4, 3, 3)), ValueError, "overlapping"),
    (dict(w=torch.randn(4, 7, 1, 1)), ValueError, "weight must have shape"),
]


@pytest.mark.parametrize("change,error,message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_a_clear_error(change, error, message):
    a = {**_bad_args(), **change}
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.preact_conv1x1_out(a["x"], a["scale"], a["shift"], a["w"], a["b"], "relu", 2, a["out"])


def test_out_overlapping_x_is_refused():
    buf = torch.randn(1, 16, 6, 6).contiguous(memory_format=torch.channels_last)
    scale, shift, w = torch.ones(8), torch.zeros(8), torch.randn(8, 8, 1, 1)
    with pytest.raises(ValueError, match="shares memory with x"):
        torch.ops.cnnfast.preact_conv1x1_out(buf[:, :8], scale, shift, w, None, "none", 1, buf[:, 4:12])


def test_inference_only():
    x, scale, shift, w, b = _bad_args()["x"].requires_grad_(), *_args(2, 8, 4, 6)[1:]
    with pytest.raises(RuntimeError, match="inference"):
        torch.ops.cnnfast.preact_conv1x1_out(x, scale, shift, w, b, "relu", 2, torch.empty(2, 4, 3, 3))
