"""conv2d_bias_act_mean (the conv kernel summing each output block as it stores it) vs
conv2d_bias_act then se_squeeze (the map read back) vs the eager channels_last conv and mean, on
every conv before an SE block in MobileNetV3-L, EfficientNet-B0, SE-ResNet-50 and RegNetY-400MF,
batch 1 and 8."""

import pytest
import torch
import torch.nn as nn

from benchmarks.shapes import se_squeeze_convs

CONVS = se_squeeze_convs()
PROVIDERS = ["eager_cl", "conv_then_squeeze", "cnnfast"]
ACTS = {"relu": nn.ReLU, "hardswish": nn.Hardswish, "silu": nn.SiLU, "none": nn.Identity}


def _name(item):
    model, (cin, k_out, h, w, k, s, p, groups, act) = item
    return f"{model}-{cin}-{k_out}-{h}x{w}-k{k}s{s}g{groups}"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("item", CONVS, ids=[_name(c) for c in CONVS])
def test_conv2d_bias_act_mean(benchmark, run, item, batch, provider):
    _, (cin, k_out, h, w, k, s, p, groups, act) = item
    benchmark.group = f"conv2d_bias_act_mean b{batch} {_name(item)}"
    benchmark.extra_info.update(provider=provider, batch=batch)
    torch.manual_seed(0)
    x = torch.randn(batch, cin, h, w).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.randn(k_out, cin // groups, k, k) / k, torch.randn(k_out)
    args = (x, weight, bias, [s, s], [p, p], [1, 1], groups, None, act)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.conv2d_bias_act_mean(*args))
    elif provider == "conv_then_squeeze":
        def apart():
            y = torch.ops.cnnfast.conv2d_bias_act(*args)
            return y, torch.ops.cnnfast.se_squeeze(y)
        run(apart)
    else:
        eager = nn.Sequential(nn.Conv2d(cin, k_out, k, s, p, groups=groups), ACTS[act]()).eval()
        eager = eager.to(memory_format=torch.channels_last)

        def eager_call():
            y = eager(x)
            return y, y.mean((2, 3))
        run(eager_call)
