"""ShuffleNet V2's block tail, cat -> channel shuffle -> chunk(2), eager (channels_last parts, as
optimize() hands them on) against one cnnfast shuffle_channels call with the source-grouped index
the fold_channel_shuffle pass builds, batch 1 and 8, at the three stages' sizes."""

import pytest
import torch

# (name, block channels C, map size)
BLOCKS = [("stage2", 116, 28), ("stage3", 232, 14), ("stage4", 464, 7)]
PROVIDERS = ["eager_cl", "cnnfast"]


def _eager(x1, b):
    y = torch.cat((x1, b), 1)
    n, c, h, w = y.size()
    y = torch.transpose(y.view(n, 2, c // 2, h, w), 1, 2).contiguous().view(n, c, h, w)
    return y.chunk(2, dim=1)


def _grouped_index(c):
    shuffle = torch.tensor([(o % 2) * (c // 2) + o // 2 for o in range(c)])
    return torch.cat([shuffle[: c // 2].sort().values, shuffle[c // 2:].sort().values])


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("block", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_shuffle_channels(benchmark, run, block, batch, provider):
    name, c, h = block
    benchmark.group = f"shuffle_channels b{batch} {name}"
    x1, b = (torch.randn(batch, c // 2, h, h).contiguous(memory_format=torch.channels_last) for _ in range(2))
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        index = _grouped_index(c)
        run(lambda: torch.ops.cnnfast.shuffle_channels([x1, b], index, [c // 2, c // 2]))
    else:
        run(lambda: _eager(x1, b))
