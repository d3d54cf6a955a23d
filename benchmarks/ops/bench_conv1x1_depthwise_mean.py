"""conv1x1_depthwise_mean (the depthwise kernel summing each output row as it stores it) vs
conv1x1_depthwise then se_squeeze (the map read back), on every 1x1 -> depthwise pair before an SE
block in MobileNetV3-L and EfficientNet-B0, batch 1 and 8."""

import pytest
import torch

from benchmarks.shapes import conv1x1_depthwise_inputs, se_squeeze_pairs

PAIRS = se_squeeze_pairs()
PROVIDERS = ["pair_then_squeeze", "cnnfast"]


def _name(item):
    model, (cin, c, h, w, k, s, p, d, a1, a2) = item
    return f"{model}-{cin}-{c}-{h}x{w}-k{k}s{s}"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("item", PAIRS, ids=[_name(p) for p in PAIRS])
def test_conv1x1_depthwise_mean(benchmark, run, item, batch, provider):
    _, (cin, c, h, w, k, s, p, d, a1, a2) = item
    benchmark.group = f"conv1x1_depthwise_mean b{batch} {_name(item)}"
    benchmark.extra_info.update(provider=provider, batch=batch)
    x, w1, b1, w2, b2 = conv1x1_depthwise_inputs(item[1], batch)
    args = (x, w1, b1, a1, w2, b2, [s, s], [p, p], [d, d], a2)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.conv1x1_depthwise_mean(*args))
    else:
        def apart():
            y = torch.ops.cnnfast.conv1x1_depthwise(*args)
            return y, torch.ops.cnnfast.se_squeeze(y)
        run(apart)
