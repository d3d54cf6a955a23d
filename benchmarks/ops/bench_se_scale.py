"""se_scale / se_scale_ vs the eager relu(x * gate + residual) that ends an SE-ResNet block, NCHW and
channels_last, at the SE shapes, batch 1 and 8. se_scale_ writes over x, as optimize() runs it."""

import pytest
import torch

from benchmarks.se_shapes import SE_SHAPES, shape_id

PROVIDERS = ["eager", "eager_cl", "cnnfast", "cnnfast_inplace"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("shape", SE_SHAPES, ids=[shape_id(s) for s in SE_SHAPES])
def test_se_scale(benchmark, run, shape, batch, provider):
    _, c, hw, _ = shape
    benchmark.group = f"se_scale b{batch} {shape_id(shape)}"
    g = torch.Generator().manual_seed(0)
    x, res = torch.randn(batch, c, hw, hw, generator=g), torch.randn(batch, c, hw, hw, generator=g)
    gate = torch.rand(batch, c, generator=g)
    if provider != "eager":
        x, res = (t.contiguous(memory_format=torch.channels_last) for t in (x, res))
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.se_scale(x, gate, res, "relu"))
    elif provider == "cnnfast_inplace":
        # Repeated in place, x stays bounded (|x| <= |x| * gate + |res|): same traffic every call.
        run(lambda: torch.ops.cnnfast.se_scale_(x, gate, res, "relu"))
    else:
        g4 = gate[:, :, None, None]
        run(lambda: torch.relu(x * g4 + res))
