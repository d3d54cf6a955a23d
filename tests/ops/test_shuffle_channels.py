"""cnnfast.ops.shuffle_channels against cat + index_select + split: ShuffleNet's block shapes with the
index orders optimize() builds, random and repeating indices, both layouts and mixed ones, every
dtype (a copy: results must be bit-exact), opcheck, bad input."""

import pytest
import torch

import cnnfast
from cnnfast.reference import shuffle_channels as reference
from tests._helpers import DEVICE_BACKENDS


def _t(batch, c, h, layout, dtype=torch.float32, seed=0):
    x = torch.randn(batch, c, h, h + 2, generator=torch.Generator().manual_seed(seed)).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else x


def _shuffle_chunk_index(c: int) -> torch.Tensor:
    """cat(a, b) -> channel_shuffle(2): out[2k + j] = cat[j * c/2 + k]."""
    return torch.tensor([(o % 2) * (c // 2) + o // 2 for o in range(c)])


def _check(inputs, index, split, device="cpu", backend="auto"):
    inputs = [t.to(device) for t in inputs]
    outs = cnnfast.ops.shuffle_channels(inputs, index.to(device), split, backend=backend)
    refs = reference([t.cpu() for t in inputs], index, split)
    assert len(outs) == len(refs)
    x = inputs[0]
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous() \
        else torch.contiguous_format
    for out, ref in zip(outs, refs):
        assert out.shape == ref.shape and out.dtype == ref.dtype
        assert torch.equal(out.cpu(), ref)  # a copy: exact
        assert out.is_contiguous(memory_format=fmt)


# ShuffleNet V2 x1.0's three stages (block input C, map size), and tiny/odd ones.
SHAPES = [(116, 28), (232, 14), (464, 7), (6, 3), (10, 1)]


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("layout", ["channels_last", "nchw"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_shufflenet_block(shape, batch, layout, device, backend):
    c, h = shape
    a, b = _t(batch, c // 2, h, layout), _t(batch, c // 2, h, layout, seed=1)
    # cat + shuffle + chunk(2): the two halves as separate outputs, in logical order...
    _check([a, b], _shuffle_chunk_index(c), [c // 2, c // 2], device, backend)
    # ...and in the source-grouped order the pass picks (two long runs per output).
    perm = _shuffle_chunk_index(c)
    grouped = torch.cat([perm[: c // 2].sort().values, perm[c // 2:].sort().values])
    _check([a, b], grouped, [c // 2, c // 2], device, backend)
    # The whole shuffled tensor as one output (a stage's last block).
    _check([a, b], _shuffle_chunk_index(c), [c], device, backend)


@pytest.mark.parametrize("device,backend", DEVICE_BACKENDS)
@pytest.mark.parametrize("layout", ["channels_last", "nchw"])
def test_random_index_with_repeats_and_three_inputs(layout, device, backend):
    inputs = [_t(2, c, 5, layout, seed=i) for i, c in enumerate([3, 8, 5])]
    index = torch.randint(0, 16, (21,), generator=torch.Generator().manual_seed(3))
    _check(inputs, index, [4, 0, 17], device, backend)


def test_mixed_layouts_take_the_first_inputs():
    a, b = _t(2, 4, 6, "channels_last"), _t(2, 6, 6, "nchw")
    _check([a, b], torch.arange(9, -1, -1), [10])
    _check([b, a], torch.arange(10), [3, 7])


def test_channel_slices_as_inputs():
    x = _t(2, 12, 5, "channels_last")
    _check([x[:, 2:7], x[:, 7:]], torch.tensor([9, 0, 4, 5, 1]), [2, 3])


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16, torch.int32, torch.uint8])
def test_other_dtypes(dtype):
    a = (_t(2, 6, 4, "channels_last") * 50).to(dtype)
    b = (_t(2, 6, 4, "channels_last", seed=1) * 50).to(dtype)
    _check([a, b], _shuffle_chunk_index(12), [6, 6])


def test_empty_batch_and_empty_output():
    a = _t(1, 4, 3, "channels_last")[:0]
    outs = cnnfast.ops.shuffle_channels([a], torch.tensor([1, 0]), [2])
    assert outs[0].shape == (0, 2, 3, 5)
    assert cnnfast.ops.shuffle_channels([_t(1, 4, 3, "nchw")], torch.tensor([], dtype=torch.int64), [0])[0].shape == (1, 0, 3, 5)


@pytest.mark.parametrize("layout", ["channels_last", "nchw"])
def test_opcheck(layout):
    a, b = _t(2, 4, 5, layout), _t(2, 6, 5, layout, seed=1)
    torch.library.opcheck(torch.ops.cnnfast.shuffle_channels.default, ([a, b], _shuffle_chunk_index(10), [5, 5]))


BAD = [
    (dict(inputs=[]), ValueError, "at least one tensor"),
    (dict(inputs=[torch.randn(2, 4, 5)]), ValueError, "4-D"),
    (dict(inputs=[torch.randn(1, 2, 5, 5), torch.randn(1, 2, 4, 5)]), ValueError, "N, H and W"),
    (dict(inputs=[torch.randn(1, 2, 5, 5), torch.randn(1, 2, 5, 5).double()]), TypeError, "dtype"),
    (dict(index=torch.tensor([0.0, 1.0])), TypeError, "int64"),
    (dict(index=torch.tensor([[0, 1]])), ValueError, "1-D"),
    (dict(split=[1, 2]), ValueError, "adds up to"),
    (dict(split=[-1, 3]), ValueError, ">= 0"),
    (dict(index=torch.tensor([0, 4])), ValueError, r"must lie in \[0, 4\)"),
    (dict(index=torch.tensor([-1, 0])), ValueError, "must lie in"),
]


@pytest.mark.parametrize("change,error,message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_a_clear_error(change, error, message):
    a = dict(inputs=[torch.randn(1, 2, 5, 5), torch.randn(1, 2, 5, 5)], index=torch.tensor([3, 0]), split=[2])
    a.update(change)
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.shuffle_channels(a["inputs"], a["index"], a["split"])


def test_inference_only():
    a = torch.randn(1, 2, 3, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="inference"):
        torch.ops.cnnfast.shuffle_channels([a], torch.tensor([1, 0]), [2])
