"""max_pool2d_out into a concat buffer slice vs what it replaces: max_pool2d into a fresh tensor
followed by torch.cat's copy of it (here: copy_ into the slice), on Inception-v3's grid-reduction
pools and DenseNet-121's stem pool, channels_last, batch 1 and 8."""

import pytest
import torch

# (name, C, H, kernel, stride, padding, buffer channels, offset)
POOLS = [
    ("inception_v3-mixed6a", 288, 35, 3, 2, 0, 768, 480),
    ("inception_v3-mixed7a", 768, 17, 3, 2, 0, 1280, 512),
    ("densenet121-pool0", 64, 112, 3, 2, 1, 256, 0),
]
PROVIDERS = ["fresh_copy", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("pool", POOLS, ids=[p[0] for p in POOLS])
def test_max_pool2d_out(benchmark, run, pool, batch, provider):
    name, c, h, k, s, p, total, offset = pool
    benchmark.group = f"max_pool_out b{batch} {name}"
    x = torch.randn(batch, c, h, h, generator=torch.Generator().manual_seed(0)).contiguous(
        memory_format=torch.channels_last)
    ho = (h + 2 * p - k) // s + 1
    buf = torch.empty(batch, total, ho, ho).contiguous(memory_format=torch.channels_last)
    out = buf[:, offset:offset + c]
    args = (x, [k, k], [s, s], [p, p], False)
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.max_pool2d_out(*args, out))
    else:
        run(lambda: out.copy_(torch.ops.cnnfast.max_pool2d(*args)))
