"""cnnfast.ops.max_pool2d_out: writes exactly its slice of a concat buffer, equal to
torch.nn.functional.max_pool2d (a max is exact), both layouts, every float dtype, channel counts off
the 16-lane grid, NaN, opcheck, bad input."""

import pytest
import torch
import torch.nn.functional as F

import cnnfast

SENTINEL = 1234.5  # what the buffer holds outside the slice; must survive
# (C, H, kernel, stride, padding, ceil_mode): Inception-v3's grid reductions (Mixed_6a on 35x35,
# Mixed_7a on 17x17), DenseNet's stem pool, ceil mode, channels off the 16-lane grid.
POOLS = [(288, 35, 3, 2, 0, False), (768, 17, 3, 2, 0, False), (64, 112, 3, 2, 1, False), (19, 9, 2, 2, 1, True),
         (40, 8, 3, 1, 1, False), (3, 7, 3, 3, 0, True)]


def _x(batch, c, h, layout, dtype=torch.float32, seed=0):
    x = torch.randn(batch, c, h, h + 1, generator=torch.Generator().manual_seed(seed)).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else x


def _run(x, k, s, p, ceil, offset=5, extra=3):
    ref = F.max_pool2d(x, k, s, p, 1, ceil)
    n, c, h, w = ref.shape
    buf = torch.full((n, offset + c + extra, h, w), SENTINEL, dtype=x.dtype)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        buf = buf.contiguous(memory_format=torch.channels_last)
    out = buf[:, offset:offset + c]
    assert cnnfast.ops.max_pool2d_out(x, k, s, p, ceil, out=out) is out
    assert torch.equal(out.isnan(), ref.isnan())
    assert torch.equal(out.nan_to_num(0.5), ref.nan_to_num(0.5))
    assert (buf[:, :offset] == SENTINEL).all() and (buf[:, offset + c:] == SENTINEL).all(), "wrote outside its slice"
    return buf


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("pool", POOLS, ids=lambda q: "-".join(map(str, q)))
def test_writes_its_slice(pool, batch, layout):
    c, h, k, s, p, ceil = pool
    _run(_x(batch, c, h, layout), k, s, p, ceil)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_other_dtypes(dtype):
    _run(_x(2, 40, 9, "channels_last", dtype), 3, 2, 1, False)


def test_nan_wins_as_in_eager():
    x = _x(1, 35, 11, "channels_last")
    x[0, 3, 4, 5] = float("nan")
    x[0, 34, 0, 0] = float("nan")  # in the part-vector tail
    _run(x, 3, 2, 0, False)


def test_dense_out_and_the_cpp_entry_agree():
    x = _x(2, 64, 15, "channels_last")
    out = torch.empty(2, 64, 7, 7).contiguous(memory_format=torch.channels_last)
    torch.ops.cnnfast.max_pool2d_out(x, [3, 3], [2, 2], [0, 0], False, out)
    assert torch.equal(out, cnnfast.ops.max_pool2d(x, 3, 2, 0, False))


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_opcheck(layout):
    x = _x(2, 24, 9, layout)
    buf = torch.empty(2, 30, 4, 4)
    if layout == "channels_last":
        buf = buf.contiguous(memory_format=torch.channels_last)
    torch.library.opcheck(torch.ops.cnnfast.max_pool2d_out.default, (x, [3, 3], [2, 2], [0, 0], False, buf[:, 3:27]))


BAD = [
    (dict(out=torch.empty(2, 8, 5, 5)), ValueError, "out has shape"),
    (dict(out=torch.empty(2, 8, 4, 4, dtype=torch.float64)), TypeError, "out dtype"),
    (dict(out=torch.empty(1, 8, 1, 1).expand(2, 8, 4, 4)), ValueError, "overlapping"),
    (dict(kernel=[3, 3, 3]), ValueError, "2 elements"),
]


@pytest.mark.parametrize("change,error,message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_a_clear_error(change, error, message):
    a = {**dict(x=torch.randn(2, 8, 9, 9), kernel=[3, 3], out=torch.empty(2, 8, 4, 4)), **change}
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.max_pool2d_out(a["x"], a["kernel"], [2, 2], [0, 0], False, a["out"])


def test_out_overlapping_x_is_refused():
    buf = torch.randn(1, 16, 9, 9).contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="shares memory with x"):
        torch.ops.cnnfast.max_pool2d_out(buf[:, :8], [1, 1], [1, 1], [0, 0], False, buf[:, 4:12])


def test_inference_only():
    x = torch.randn(1, 8, 6, 6, requires_grad=True)
    with pytest.raises(RuntimeError, match="inference"):
        torch.ops.cnnfast.max_pool2d_out(x, [2, 2], [2, 2], [0, 0], False, torch.empty(1, 8, 3, 3))
