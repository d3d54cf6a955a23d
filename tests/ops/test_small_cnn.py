"""cnnfast.ops.small_cnn (a whole small CNN in one call) against its layer-by-layer reference:
LeNet-5 (classic tanh/average pool and modern ReLU/max pool), padding and strides, every
activation, no-bias layers, strided input, batch 1 and >1, other dtypes, NaN, opcheck, bad input.
The CPU kernel is built once per x86-64 level (16-lane vectors with AVX-512, 8 with AVX2, 4
below): the `kernel_level` fixture (tests/conftest.py) runs a test at each level this CPU can
execute."""

import pytest
import torch

import cnnfast
from cnnfast import config
from cnnfast.ops import ACTIVATIONS
from cnnfast.contracts.small_cnn_program import conv_layer, linear_layer
from cnnfast.reference import small_cnn as reference
from tests._helpers import DEVICE_BACKENDS, TOLERANCE, rel_err


def _net(convs, linears, in_c=1, size=32, dtype=torch.float32, bias=True, seed=0):
    """convs: (out_c, k, stride, padding, act, pool, pool_size); linears: (out, act). Returns
    (x-shape, weights, biases, program) with weights scaled as a trained net's (unit-variance outputs)."""
    g = torch.Generator().manual_seed(seed)
    weights, biases, program = [], [], []
    c, h = in_c, size
    for out_c, k, s, p, act, pool, ps in convs:
        weights.append(torch.randn(out_c, c, k, k, generator=g) / (c * k * k) ** 0.5)
        program += conv_layer(s, p, act, pool, ps)
        c, h = out_c, (h + 2 * p - k) // s + 1
        h = h // ps if pool != "none" else h
    k_in = c * h * h
    for out, act in linears:
        weights.append(torch.randn(out, k_in, generator=g) / k_in ** 0.5)
        program += linear_layer(act)
        k_in = out
    for w in weights:
        biases.append(0.5 * torch.randn(w.shape[0], generator=g) if bias else None)
    return [t.to(dtype) for t in weights], [b.to(dtype) if b is not None else None for b in biases], program


LENET = ([(6, 5, 1, 0, "tanh", "avg", 2), (16, 5, 1, 0, "tanh", "avg", 2)], [(120, "tanh"), (84, "tanh"), (10, "none")])
LENET_MODERN = ([(6, 5, 1, 0, "relu", "max", 2), (16, 5, 1, 0, "relu", "max", 2)],
                [(120, "relu"), (84, "relu"), (10, "none")])
# Padding, stride 2, 3x3 kernels, no pool, a pool of 3 that drops a remainder row, odd widths (the
# 16-column accumulator's tail), more channels than one vector.
OTHER = ([(20, 3, 1, 1, "relu6", "none", 0), (24, 3, 2, 1, "silu", "max", 3), (40, 1, 1, 0, "hardswish", "avg", 2)],
         [(33, "sigmoid"), (7, "hardsigmoid")])
# A wide stride-2 map on the by-columns loop (two column vectors per pass, strided loads), a
# pooled layer of 30 columns (the second vector part-filled), a linear layer over two blocks of
# 128 outputs.
WIDE = ([(8, 5, 2, 2, "relu", "none", 0), (6, 3, 1, 0, "tanh", "max", 2)], [(130, "relu"), (5, "none")])
NETS = {"lenet5": (LENET, 1, 32), "lenet5_modern": (LENET_MODERN, 1, 32), "other": (OTHER, 3, 37),
        "wide": (WIDE, 2, 64)}


def _check(name, batch, dtype=torch.float32, layout="nchw", bias=True, x=None):
    (convs, linears), in_c, size = NETS[name]
    weights, biases, program = _net(convs, linears, in_c, size, dtype, bias)
    if x is None:
        x = 2 * torch.randn(batch, in_c, size, size + (name == "other"), generator=torch.Generator().manual_seed(1))
        x = x.to(dtype)
        if layout == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
        elif layout == "strided":
            x = torch.cat([x, x], dim=3)[..., ::2]
    out = cnnfast.ops.small_cnn(x, weights, biases, program)
    ref = reference(x.double(), [w.double() for w in weights], [b.double() if b is not None else None for b in biases],
                    program)
    assert out.shape == ref.shape and out.dtype == dtype
    err = rel_err(out, ref)
    assert err <= TOLERANCE[dtype], f"relative error {err:.2e}"
    return out, ref


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "strided"])
@pytest.mark.parametrize("batch", [1, 3, 8])
@pytest.mark.parametrize("name", list(NETS))
def test_fp32_matches_reference(name, batch, layout, kernel_level):
    _check(name, batch, layout=layout)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation(act, kernel_level):
    convs = [(8, 3, 1, 1, act, "max", 2), (17, 3, 1, 0, act, "avg", 2)]
    NETS["act"] = ((convs, [(19, act), (5, act)]), 2, 14)
    try:
        _check("act", 2)
    finally:
        del NETS["act"]


def test_layers_without_bias():
    _check("other", 2, bias=False)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16, torch.float16])
def test_other_dtypes(dtype):
    _check("lenet5", 2, dtype)


def test_nan_propagates(kernel_level):
    x = torch.randn(2, 1, 32, 32)
    x[1, 0, 10, 10] = float("nan")
    for name in ("lenet5", "lenet5_modern"):
        (convs, linears), _, _ = NETS[name]
        weights, biases, program = _net(convs, linears)
        out = cnnfast.ops.small_cnn(x, weights, biases, program)
        assert out[1].isnan().all() and not out[0].isnan().any()


def test_kernel_level_is_checked():
    levels = config.kernel_levels()
    assert levels[0] == "baseline" and set(levels) <= set(config.KERNEL_LEVELS)
    with pytest.raises(ValueError, match="kernel level must be one of"):
        config.kernel_level("sse9")
    if "avx512" not in levels:
        with pytest.raises(ValueError, match="this CPU runs kernel levels"):
            config.kernel_level("avx512")
    assert cnnfast.build_info()["cpu_level"] == levels[-1]
    with config.kernel_level("baseline"):
        assert cnnfast.build_info()["cpu_level"] == "baseline" and config.kernel_levels() == levels
    assert cnnfast.build_info()["cpu_level"] == levels[-1]  # restored


def test_batch_change_and_repeat_calls_reuse_nothing_wrong():
    (convs, linears), _, _ = NETS["other"]
    weights, biases, program = _net(convs, linears, 3, 37)
    for batch in (1, 5, 1, 2):
        x = torch.randn(batch, 3, 37, 38)
        ref = reference(x, weights, biases, program)
        assert rel_err(cnnfast.ops.small_cnn(x, weights, biases, program), ref) <= TOLERANCE[torch.float32]


def test_ends_with_a_conv_and_starts_with_a_linear():
    weights, biases, program = _net([(4, 3, 1, 1, "relu", "max", 2)], [], in_c=2, size=9)
    x = torch.randn(2, 2, 9, 9)
    out = cnnfast.ops.small_cnn(x, weights, biases, program)
    assert out.shape == (2, 4, 4, 4) and rel_err(out, reference(x, weights, biases, program)) <= 1e-5
    w, b = torch.randn(5, 2 * 9 * 9), torch.randn(5)
    out = cnnfast.ops.small_cnn(x, [w], [b], linear_layer("relu"))  # composite path
    assert rel_err(out, reference(x, [w], [b], linear_layer("relu"))) <= 1e-5


def test_opcheck():
    (convs, linears), _, _ = NETS["lenet5"]
    weights, biases, program = _net(convs, linears)
    biases[1] = torch.empty(0)  # no bias for the second layer
    torch.library.opcheck(torch.ops.cnnfast.small_cnn.default, (torch.randn(2, 1, 32, 32), weights, biases, program))


@pytest.mark.parametrize("bad,exc,match", [
    (dict(x=torch.randn(1, 32, 32)), ValueError, "4-D"),
    (dict(program=[0, 1, 0, 0, 0, 0]), ValueError, "6 ints per layer"),
    (dict(kind=2), ValueError, "kind"),
    (dict(act=9), ValueError, "activation code"),
    (dict(x=torch.randn(1, 2, 32, 32)), ValueError, "weight must be"),
    (dict(x=torch.randn(1, 1, 3, 3)), ValueError, "larger than"),
    (dict(x=torch.randn(1, 1, 32, 32, dtype=torch.float64)), TypeError, "dtype"),
    (dict(bias0=torch.randn(7)), ValueError, "bias must be"),
])
def test_bad_input_is_refused_clearly(bad, exc, match):
    (convs, linears), _, _ = NETS["lenet5"]
    weights, biases, program = _net(convs, linears)
    x = bad.get("x", torch.randn(1, 1, 32, 32))
    program = list(bad.get("program", program))
    if "kind" in bad:
        program[0] = bad["kind"]
    if "act" in bad:
        program[3] = bad["act"]
    if "bias0" in bad:
        biases[0] = bad["bias0"]
    with pytest.raises(exc, match=match):
        cnnfast.ops.small_cnn(x, weights, biases, program)


def test_inference_only():
    (convs, linears), _, _ = NETS["lenet5"]
    weights, biases, program = _net(convs, linears)
    weights[2].requires_grad_(True)
    with pytest.raises(RuntimeError, match="inference-only"):
        cnnfast.ops.small_cnn(torch.randn(1, 1, 32, 32), weights, biases, program)
    biases[3] = biases[3].clone().requires_grad_(True)  # a bias list entry is checked too
    weights[2].requires_grad_(False)
    with pytest.raises(RuntimeError, match="inference-only"):
        cnnfast.ops.small_cnn(torch.randn(1, 1, 32, 32), weights, biases, program)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (benchmarks/gpu_check.sh runs it)")
def test_cuda():
    device = "cuda"
    (convs, linears), _, _ = NETS["lenet5"]
    weights, biases, program = _net(convs, linears)
    x = torch.randn(3, 1, 32, 32)
    out = cnnfast.ops.small_cnn(x.to(device), [w.to(device) for w in weights], [b.to(device) for b in biases], program)
    assert rel_err(out.cpu(), reference(x.double(), [w.double() for w in weights], [b.double() for b in biases],
                                        program)) <= 1e-4


@pytest.mark.parametrize("channels,width", [(3, 40), (20, 6)], ids=["by-columns", "by-channels"])
def test_max_pool_lets_a_nan_win_from_every_window_position(channels, width, kernel_level):
    # A 1x1 conv keeps a NaN input pixel in one conv output: each of the four positions of a 2x2
    # pool window (and each conv loop, picked by shape) must pass it on, as torch.max_pool2d does.
    w = torch.randn(channels, channels, 1, 1)
    b = torch.randn(channels)
    program = conv_layer(1, 0, "relu", "max", 2)
    for dy in (0, 1):
        for dx in (0, 1):
            x = torch.randn(2, channels, 6, width)
            x[1, :, 2 + dy, 4 + dx] = float("nan")
            out = cnnfast.ops.small_cnn(x, [w], [b], program)
            ref = reference(x, [w], [b], program)
            assert torch.equal(out.isnan(), ref.isnan()) and out[1, :, 1, 2].isnan().all(), (dy, dx)


@pytest.mark.parametrize("device", [d for d, b in DEVICE_BACKENDS if b == "triton"])
@pytest.mark.parametrize("name", list(NETS))
def test_triton_matches_reference(name, device):
    (convs, linears), in_c, size = NETS[name]
    weights, biases, program = _net(convs, linears, in_c, size, bias=name != "other")
    x = torch.randn(2, in_c, size, size + (name == "other"))
    out = cnnfast.ops.small_cnn(x.to(device), [w.to(device) for w in weights],
                                [b.to(device) if b is not None else None for b in biases], program, backend="triton")
    assert rel_err(out.cpu(), reference(x, weights, biases, program)) <= TOLERANCE[torch.float32]
