"""cnnfast.ops.to_channels_last against x.contiguous(memory_format=torch.channels_last): the
interleave of 1-4 channel NCHW fp32 maps (image sizes, odd sizes, several chunks and images, 1-3
threads), everything else through ATen (wider maps, other dtypes and layouts, slices), always a
new tensor; NaN and Inf bit-exact, opcheck, bad input."""

import pytest
import torch

import cnnfast
from cnnfast.reference import to_channels_last as reference


def _check(x):
    out = cnnfast.ops.to_channels_last(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert x.numel() == 0 or out.data_ptr() != x.data_ptr()
    assert torch.equal(out, reference(x))  # a copy: bit-exact
    return out


@pytest.mark.parametrize("threads", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("shape", [(1, 3, 224, 224), (8, 3, 64, 80), (3, 3, 299, 299), (2, 1, 28, 28),
                                   (2, 2, 33, 65), (5, 4, 7, 9), (1, 3, 1, 1), (2, 3, 1, 4097)],
                         ids=lambda s: "x".join(map(str, s)))
def test_interleave_matches_aten(shape, threads):
    _check(torch.randn(shape))


@pytest.mark.parametrize("x", [torch.randn(2, 5, 9, 9), torch.randn(2, 3, 9, 9).double(),
                               torch.randn(2, 3, 9, 9).half(), torch.randint(0, 9, (2, 3, 9, 9)),
                               torch.randn(2, 9, 9, 3).permute(0, 3, 1, 2),  # already channels_last
                               torch.randn(2, 6, 9, 9)[:, 1:4]],  # a channel slice
                         ids=["5-channels", "float64", "float16", "int64", "channels_last", "slice"])
def test_everything_else_goes_through_aten(x):
    _check(x)


def test_nan_and_inf_are_copied_bit_for_bit():
    x = torch.randn(1, 3, 8, 8)
    x[0, 1, 2, 3], x[0, 2, 7, 7], x[0, 0, 0, 0] = float("nan"), float("inf"), -float("inf")
    out = cnnfast.ops.to_channels_last(x)
    assert torch.equal(out.view(torch.int32), reference(x).view(torch.int32))


def test_empty_batch():
    assert _check(torch.randn(0, 3, 5, 5)).shape == (0, 3, 5, 5)


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_opcheck(layout):
    x = torch.randn(2, 3, 6, 7)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    torch.library.opcheck(torch.ops.cnnfast.to_channels_last.default, (x,))


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="4-D"):
        torch.ops.cnnfast.to_channels_last(torch.randn(3, 5, 5))
