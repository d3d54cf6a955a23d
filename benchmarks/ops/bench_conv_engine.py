"""conv2d_bias_act on every distinct conv of the lecture models (benchmarks/shapes.py:
lecture_conv_layers), batch 1 and 8, channels_last, bias + ReLU, on each CPU kernel that can run
the layer: cnnfast's conv engine (csrc/conv_engine, brgemm microkernel), oneDNN through ATen,
and the direct depthwise / 1x1 kernels where they apply; provider "rule" is what the router
picks (csrc/conv_engine/route.cpp). The same comparison as one script with a table:
benchmarks/conv_engine_layers.py.
"""

import pytest
import torch

import cnnfast
from cnnfast import config
from benchmarks.shapes import lecture_conv_layers

LAYERS = lecture_conv_layers()
PROVIDERS = ["rule", "engine", "onednn", "direct"]


def _layer_id(layer):
    model, (cin, cout, (r, s), stride, padding, dilation, groups, h, w) = layer
    return f"{model}-{cin}to{cout}-k{r}x{s}-s{stride[0]}-g{groups}-{h}x{w}"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("layer", LAYERS, ids=[_layer_id(layer) for layer in LAYERS])
def test_conv_engine(benchmark, run, layer, batch, provider):
    model, (cin, cout, (r, s), stride, padding, dilation, groups, h, w) = layer
    benchmark.group = f"conv b{batch} {_layer_id(layer)}"
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, h, w, generator=gen).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(cout, cin // groups, r, s, generator=gen) / (cin // groups * r * s) ** 0.5
    bias = torch.randn(cout, generator=gen)
    rule = config.conv_path_for(x.shape, weight.shape, stride, padding, dilation, groups)
    path = {"rule": rule, "direct": rule if rule in ("depthwise", "pointwise", "gemm") else None}.get(provider, provider)
    if path is None or (provider != "rule" and _forced_path(path, x, weight, stride, padding, dilation, groups) != path):
        pytest.skip(f"{provider} does not run this layer")
    benchmark.extra_info.update(provider=provider, batch=batch, path=path)

    def op():
        with config.force_conv_path(path):
            return cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, None, "relu")

    run(op)


def _forced_path(path, x, weight, stride, padding, dilation, groups):
    with config.force_conv_path(path):
        return config.conv_path_for(x.shape, weight.shape, stride, padding, dilation, groups)
