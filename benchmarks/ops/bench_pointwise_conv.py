"""conv2d_bias_act on 1x1 convs (stride 1, one group): every distinct such conv of ShuffleNet V2,
MobileNetV3-Large and EfficientNet-B0, batch 1 and 8, channels_last.

Providers: eager_cl (F.conv2d + ReLU in channels_last: oneDNN through ATen, which cnnfast used
for these before) and cnnfast (the op: its direct kernel up to 32M multiply-adds, or up to 160M
while the weight fits L2; oneDNN above; see csrc/ops/conv2d_bias_act/pointwise_conv_cpu.cpp).
"""

import pytest
import torch
import torch.nn.functional as F

import cnnfast
from benchmarks.shapes import conv_layers

MODELS = {"shufflenet_v2_x1_0": 224, "mobilenet_v3_large": 224, "efficientnet_b0": 224}
LAYERS = sorted({(name, s) for name, size in MODELS.items() for s in conv_layers(name, size)
                 if s[2] == 1 and s[3] == 1 and s[5] == 1 and s[6] * s[7] > 1})
PROVIDERS = ["eager_cl", "cnnfast"]


def _layer_id(layer):
    model, (cin, cout, k, s, p, g, h, w, _) = layer
    return f"{model}-{cin}to{cout}x{h}x{w}"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("layer", LAYERS, ids=[_layer_id(layer) for layer in LAYERS])
def test_pointwise_conv(benchmark, run, layer, batch, provider):
    model, (cin, cout, k, s, p, g, h, w, _) = layer
    benchmark.group = f"pointwise b{batch} {_layer_id(layer)}"
    benchmark.extra_info.update(provider=provider, batch=batch)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, h, w, generator=gen).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(cout, cin, 1, 1, generator=gen) / cin ** 0.5
    bias = torch.randn(cout, generator=gen)
    if provider == "cnnfast":
        run(lambda: cnnfast.ops.conv2d_bias_act(x, weight, bias, 1, 0, 1, 1, None, "relu"))
    else:
        run(lambda: F.relu(F.conv2d(x, weight, bias)))
