"""se_excite vs the eager excitation: the two FC layers as torchvision runs them (1x1 convs on the
pooled (N, C, 1, 1) map, ReLU, sigmoid) and as F.linear (MKL GEMM) layers, batch 1 and 8."""

import pytest
import torch
import torch.nn.functional as F

from benchmarks.se_shapes import SE_SHAPES, shape_id

PROVIDERS = ["eager_conv", "eager_linear", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("shape", SE_SHAPES, ids=[shape_id(s) for s in SE_SHAPES])
def test_se_excite(benchmark, run, shape, batch, provider):
    _, c, _, r = shape
    benchmark.group = f"se_excite b{batch} {shape_id(shape)}"
    g = torch.Generator().manual_seed(0)
    s = torch.randn(batch, c, generator=g)
    w1, b1 = torch.randn(r, c, generator=g) / c ** 0.5, torch.randn(r, generator=g)
    w2, b2 = torch.randn(c, r, generator=g) / r ** 0.5, torch.randn(c, generator=g)
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.se_excite(s, w1, b1, w2, b2, "relu", "sigmoid"))
    elif provider == "eager_linear":
        run(lambda: torch.sigmoid(F.linear(F.relu(F.linear(s, w1, b1)), w2, b2)))
    else:
        s4, w1c, w2c = s[:, :, None, None], w1[:, :, None, None], w2[:, :, None, None]
        run(lambda: torch.sigmoid(F.conv2d(F.relu(F.conv2d(s4, w1c, b1)), w2c, b2)))
