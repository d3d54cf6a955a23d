"""preact_conv1x1_out into a concat buffer slice vs what it replaces: preact_conv1x1 into a fresh
tensor followed by torch.cat's copy of it (here: copy_ into the slice), on DenseNet-121's three
transitions (whose output is the next dense block's first features), channels_last, batch 1 and 8."""

import pytest
import torch

# (name, C_in, C_out, H, buffer channels of the next block)
TRANSITIONS = [
    ("densenet121-transition1", 256, 128, 56, 512),
    ("densenet121-transition2", 512, 256, 28, 1024),
    ("densenet121-transition3", 1024, 512, 14, 1024),
]
PROVIDERS = ["fresh_copy", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("transition", TRANSITIONS, ids=[t[0] for t in TRANSITIONS])
def test_preact_conv1x1_out(benchmark, run, transition, batch, provider):
    name, c, c_out, h, total = transition
    benchmark.group = f"preact_out b{batch} {name}"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, c, h, h, generator=g).contiguous(memory_format=torch.channels_last)
    scale, shift = torch.rand(c, generator=g) + 0.5, torch.randn(c, generator=g)
    w = torch.randn(c_out, c, 1, 1, generator=g) / c ** 0.5
    buf = torch.empty(batch, total, h // 2, h // 2).contiguous(memory_format=torch.channels_last)
    out = buf[:, :c_out]
    args = (x, scale, shift, w, None, "none", 2)
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.preact_conv1x1_out(*args, out))
    else:
        run(lambda: out.copy_(torch.ops.cnnfast.preact_conv1x1(*args)))
