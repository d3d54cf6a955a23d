"""se_squeeze vs the eager mean over H x W (what x.mean((2, 3)) / AdaptiveAvgPool2d(1) run), NCHW and
channels_last, at the SE shapes of SE-ResNet-50 and MobileNetV3, batch 1 and 8."""

import pytest
import torch

from benchmarks.se_shapes import SE_SHAPES, shape_id

PROVIDERS = ["eager", "eager_cl", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("shape", SE_SHAPES, ids=[shape_id(s) for s in SE_SHAPES])
def test_se_squeeze(benchmark, run, shape, batch, provider):
    _, c, hw, _ = shape
    benchmark.group = f"se_squeeze b{batch} {shape_id(shape)}"
    x = torch.randn(batch, c, hw, hw)
    if provider != "eager":
        x = x.contiguous(memory_format=torch.channels_last)
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.se_squeeze(x))
    else:
        run(lambda: x.mean((2, 3)))
