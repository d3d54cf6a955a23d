"""preact_conv1x1 vs the eager modules it replaces (BatchNorm2d -> ReLU -> 1x1 Conv2d, and for the
transitions -> AvgPool2d) and vs the same three steps on channels_last tensors, on DenseNet-121's
layers and transitions, batch 1 and 8. The input is a channel slice of the block buffer, as in
the optimized model (eager providers get the contiguous concatenation they would have built)."""

import pytest
import torch
import torch.nn as nn

from cnnfast.nn.preact_conv1x1 import batchnorm_affine
from cnnfast.testing import randomize_batchnorm

# (name, C_in, C_out, H, pool)
LAYERS = [
    ("block1-layer6", 224, 128, 56, 1),
    ("block2-layer12", 480, 128, 28, 1),
    ("block3-layer24", 992, 128, 14, 1),
    ("block4-layer16", 992, 128, 7, 1),
    ("transition1", 256, 128, 56, 2),
    ("transition3", 1024, 512, 14, 2),
]
PROVIDERS = ["eager", "eager_cl", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("layer", LAYERS, ids=[x[0] for x in LAYERS])
def test_preact_conv1x1(benchmark, run, layer, batch, provider):
    name, c_in, c_out, h, pool = layer
    benchmark.group = f"preact_conv1x1 b{batch} {name}"
    torch.manual_seed(0)
    mods = [nn.BatchNorm2d(c_in), nn.ReLU(inplace=True), nn.Conv2d(c_in, c_out, 1, bias=pool == 1)]
    if pool > 1:
        mods.append(nn.AvgPool2d(2, 2))
    eager = randomize_batchnorm(nn.Sequential(*mods)).eval()
    buf = torch.randn(batch, c_in + 32, h, h).contiguous(memory_format=torch.channels_last)
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        scale, shift = batchnorm_affine(eager[0])
        conv = eager[2]
        x = buf[:, :c_in]
        run(lambda: torch.ops.cnnfast.preact_conv1x1(x, scale, shift, conv.weight, conv.bias, "none", pool))
    else:
        if provider == "eager_cl":
            eager = eager.to(memory_format=torch.channels_last)
            x = buf[:, :c_in].contiguous(memory_format=torch.channels_last)
        else:
            x = buf[:, :c_in].contiguous()
        run(lambda: eager(x))
