"""to_channels_last vs ATen's copy into channels_last (x.contiguous(memory_format=torch.channels_last)),
on the lecture models' NCHW inputs (RGB 224x224 and 299x299, LeNet's 1 x 28x28), batch 1 and 8."""

import pytest
import torch

SHAPES = [(3, 224), (3, 299), (1, 28)]
PROVIDERS = ["aten", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{c}x{h}x{h}" for c, h in SHAPES])
def test_to_channels_last(benchmark, run, shape, batch, provider):
    c, h = shape
    benchmark.group = f"to_channels_last b{batch} {c}x{h}x{h}"
    benchmark.extra_info.update(provider=provider, batch=batch)
    x = torch.randn(batch, c, h, h)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.to_channels_last(x))
    else:
        run(lambda: x.contiguous(memory_format=torch.channels_last))
