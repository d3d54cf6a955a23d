"""cnnfast max_pool2d vs ATen's (which computes the argmax indices too) on the lecture models'
pools, channels_last (as optimize() hands them on), batch 1 and 8."""

import pytest
import torch
import torch.nn.functional as F

# (name, C, H, kernel, stride, padding, ceil_mode)
POOLS = [
    ("googlenet-maxpool1", 64, 112, 3, 2, 0, True),
    ("googlenet-3a-branch4", 192, 28, 3, 1, 1, True),
    ("googlenet-maxpool3", 480, 28, 3, 2, 0, True),
    ("resnet50-maxpool", 64, 112, 3, 2, 1, False),
    ("vgg16-pool5", 512, 14, 2, 2, 0, False),
    ("googlenet-5b-branch4", 832, 7, 3, 1, 1, True),
]
PROVIDERS = ["eager_cl", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("pool", POOLS, ids=[p[0] for p in POOLS])
def test_max_pool2d(benchmark, run, pool, batch, provider):
    name, c, h, k, s, p, ceil = pool
    benchmark.group = f"max_pool2d b{batch} {name}"
    x = torch.randn(batch, c, h, h).contiguous(memory_format=torch.channels_last)
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.max_pool2d(x, [k, k], [s, s], [p, p], ceil))
    else:
        run(lambda: F.max_pool2d(x, k, s, p, 1, ceil))
