"""conv1x1_depthwise (one call: the 1x1 conv's rows computed into the depthwise kernel's input
ring on 56x56+ maps) vs the two convs as conv2d_bias_act calls vs the eager channels_last modules,
on every 1x1 -> depthwise pair of MobileNetV3-L, EfficientNet-B0 and ShuffleNet V2, batch 1 and 8."""

import pytest
import torch
import torch.nn as nn

import cnnfast
from benchmarks.shapes import conv1x1_depthwise_inputs, conv1x1_depthwise_pairs

PAIRS = conv1x1_depthwise_pairs()
PROVIDERS = ["eager_cl", "two_ops", "cnnfast"]
ACTS = {"relu": nn.ReLU, "hardswish": nn.Hardswish, "silu": nn.SiLU, "none": nn.Identity}


def _name(pair):
    model, (cin, c, h, w, k, s, p, d, a1, a2) = pair
    return f"{model}-{cin}-{c}-{h}x{w}-k{k}s{s}"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("pair", PAIRS, ids=[_name(p) for p in PAIRS])
def test_conv1x1_depthwise(benchmark, run, pair, batch, provider):
    _, (cin, c, h, w, k, s, p, d, a1, a2) = pair
    benchmark.group = f"conv1x1_depthwise b{batch} {_name(pair)}"
    benchmark.extra_info.update(provider=provider, batch=batch)
    x, w1, b1, w2, b2 = conv1x1_depthwise_inputs(pair[1], batch)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.conv1x1_depthwise(x, w1, b1, a1, w2, b2, [s, s], [p, p], [d, d], a2))
    elif provider == "two_ops":
        def two():
            mid = cnnfast.ops.conv2d_bias_act(x, w1, b1, 1, 0, 1, 1, None, a1)
            return cnnfast.ops.conv2d_bias_act(mid, w2, b2, s, p, d, c, None, a2)
        run(two)
    else:
        eager = nn.Sequential(nn.Conv2d(cin, c, 1), ACTS[a1](), nn.Conv2d(c, c, k, s, p, d, groups=c), ACTS[a2]())
        eager = eager.eval().to(memory_format=torch.channels_last)
        run(lambda: eager(x))
