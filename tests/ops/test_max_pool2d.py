"""cnnfast.ops.max_pool2d against torch.nn.functional.max_pool2d: the lecture models' pools (floor
and ceil mode, padding), odd sizes, both layouts, every float dtype, NaN/-inf, opcheck, bad input;
the channels_last kernel at each x86-64 level this CPU can run (kernel_level in tests/conftest.py)."""

import pytest
import torch
import torch.nn.functional as F

import cnnfast
from cnnfast.reference import max_pool2d as reference
from tests._helpers import DEVICE_BACKENDS

# (C, H, kernel, stride, padding, ceil_mode): GoogLeNet's stem/stage pools and its 3x3/s1 branch
# pool, ResNet's stem, AlexNet/VGG, Inception-v3's stem, odd maps where ceil mode adds a window.
POOLS = [(64, 112, 3, 2, 0, True), (192, 28, 3, 1, 1, True), (480, 28, 3, 2, 0, True), (64, 112, 3, 2, 1, False),
         (64, 55, 3, 2, 0, False), (512, 14, 2, 2, 0, False), (832, 7, 3, 1, 1, True), (5, 9, 2, 2, 1, True),
         (3, 8, 3, 3, 0, True), (17, 6, 4, 1, 2, False)]


def _x(batch, c, h, layout, dtype=torch.float32, seed=0):
    x = torch.randn(batch, c, h, h + 1, generator=torch.Generator().manual_seed(seed)).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else x


def _check(x, k, s, p, ceil, backend="auto"):
    out = cnnfast.ops.max_pool2d(x, k, s, p, ceil, backend=backend)
    ref = reference(x.cpu(), k, s, p, ceil).to(out.device)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    assert torch.equal(out.isnan(), ref.isnan())
    assert torch.equal(out.nan_to_num(0.5), ref.nan_to_num(0.5))  # a max is exact: no tolerance
    cl = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    assert out.is_contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format)


@pytest.mark.parametrize("layout", ["channels_last", "nchw"])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("pool", POOLS, ids=lambda p: "-".join(map(str, p)))
def test_matches_eager(pool, batch, layout, kernel_level):
    c, h, k, s, p, ceil = pool
    _check(_x(batch, c, h, layout), k, s, p, ceil)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_other_dtypes(dtype):
    _check(_x(2, 40, 13, "channels_last", dtype), 3, 2, 1, True)


# 16: one vector; 72: four vectors together + 8 alone; 150: two groups of four, one vector, 6 alone
@pytest.mark.parametrize("c", [16, 72, 150])
def test_nan_and_inf(c, kernel_level):
    x = _x(2, c, 9, "channels_last").clone()
    for ch in {3, min(40, c - 1), min(130, c - 1), c - 1}:
        x[0, ch, 4, 4] = float("nan")
        x[1, ch, 8, 1] = -float("nan")  # sign bit set: still NaN
    x[1, 5, 0, 0] = float("-inf")
    x[1, 6, 2, 2] = float("inf")
    _check(x, 3, 2, 1, True)
    _check(torch.full((1, 8, 4, 4), float("-inf")).contiguous(memory_format=torch.channels_last), 2, 2, 0, False)


# Channels past the last whole vector are pooled as one part-vector whose loads run into the next
# pixel's first channels (and, for the image's last pixels, stop at the image's end): NaN/Inf/
# large values there must not reach this pixel's output.
@pytest.mark.parametrize("c", [3, 8, 24])
def test_channel_tail_never_takes_the_next_pixels_channels(c, kernel_level):
    x = _x(2, c, 9, "channels_last").clone()
    x[:, 0, ::2, 1::3] = float("nan")
    x[:, 0, 1::2, ::3] = 1e30
    x[1, 0, 8, 8] = float("inf")
    _check(x, 3, 2, 1, True)
    _check(x, 2, 2, 0, False)


def test_empty_batch():
    assert cnnfast.ops.max_pool2d(_x(1, 4, 6, "channels_last")[:0], 2).shape == (0, 4, 3, 3)


@pytest.mark.parametrize("layout", ["channels_last", "nchw"])
def test_opcheck(layout):
    torch.library.opcheck(torch.ops.cnnfast.max_pool2d.default, (_x(2, 6, 7, layout), [3, 3], [2, 2], [1, 1], True))


BAD = [
    (dict(x=torch.randn(4, 5, 5)), ValueError, "4-D"),
    (dict(x=torch.randint(0, 3, (1, 2, 5, 5))), TypeError, "floating"),
    (dict(padding=[2, 2]), ValueError, "padding must be"),
    (dict(kernel=[0, 3]), ValueError, "must be >= 1"),
    (dict(x=torch.randn(1, 2, 2, 2), padding=[0, 0]), ValueError, "smaller than the kernel"),
]


@pytest.mark.parametrize("change,error,message", BAD, ids=[m for *_, m in BAD])
def test_bad_input_is_a_clear_error(change, error, message):
    a = dict(x=torch.randn(1, 2, 5, 5), kernel=[3, 3], stride=[2, 2], padding=[1, 1])
    a.update(change)
    with pytest.raises(error, match=message):
        torch.ops.cnnfast.max_pool2d(a["x"], a["kernel"], a["stride"], a["padding"], False)


def test_inference_only():
    x = torch.randn(1, 2, 5, 5, requires_grad=True)
    with pytest.raises(RuntimeError, match="inference-only"):
        cnnfast.ops.max_pool2d(x, 2)


def test_unbatched_through_optimize():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2, ceil_mode=True)).eval()
    x = torch.randn(3, 9, 9)
    fast = cnnfast.optimize(model)
    with torch.no_grad():
        assert torch.allclose(fast(x), model(x), atol=1e-5)
    assert cnnfast.report(fast).fused["max_pool2d (no indices)"] == 1


def test_pools_the_pass_must_leave_alone():
    class Indices(torch.nn.Module):
        def forward(self, x):
            y, idx = F.max_pool2d(x, 2, return_indices=True)
            return y + idx.float(), F.max_pool2d(x, 3, dilation=2), torch.nn.functional.relu(x)

    model = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 1), Indices()).eval()
    x = torch.randn(1, 2, 8, 8)
    fast = cnnfast.optimize(model)
    with torch.no_grad():
        for o, r in zip(fast(x), model(x)):
            assert torch.allclose(o, r, atol=1e-5)
    assert "max_pool2d (no indices)" not in cnnfast.report(fast).fused


@pytest.mark.parametrize("layout", ["channels_last", "nchw"])
@pytest.mark.parametrize("device", sorted({d for d, _ in DEVICE_BACKENDS}))
def test_every_device(device, layout):
    x = _x(2, 24, 11, layout)
    out = cnnfast.ops.max_pool2d(x.to(device), 3, 2, 1, True)
    assert out.device.type == device and torch.equal(out.cpu(), reference(x, 3, 2, 1, True))


# The Triton kernel (cnnfast/triton/max_pool2d.py): under the interpreter here, on the GPU there.
TRITON_DEVICES = [d for d, b in DEVICE_BACKENDS if b == "triton"]


@pytest.mark.parametrize("device", TRITON_DEVICES)
@pytest.mark.parametrize("layout", ["channels_last", "nchw"])
@pytest.mark.parametrize("pool", POOLS[5:], ids=lambda p: "-".join(map(str, p)))
def test_triton_matches_eager(pool, layout, device):
    c, h, k, s, p, ceil = pool
    _check(_x(2, c, h, layout).to(device), k, s, p, ceil, backend="triton")


@pytest.mark.parametrize("device", TRITON_DEVICES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_triton_half_types_and_nan(dtype, device):
    x = _x(2, 17, 9, "channels_last", dtype)
    x[0, 3, 4, 4] = float("nan")
    x[1, 5, :3, :3] = float("-inf")
    _check(x.to(device), 3, 2, 1, True, backend="triton")


@pytest.mark.parametrize("device", TRITON_DEVICES)
def test_triton_refuses_float64_clearly(device):
    with pytest.raises(TypeError, match="float64"):
        cnnfast.ops.max_pool2d(_x(1, 3, 6, "nchw", torch.float64).to(device), 2, backend="triton")
