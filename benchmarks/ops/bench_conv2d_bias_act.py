"""conv2d_bias_act vs the eager composition act(conv2d(x) + bias + residual), on every distinct
conv layer of ResNet-50, VGG-16 and GoogLeNet, batch 1 and 8.

Providers: eager (NCHW, what a stock model runs), eager_cl (channels_last eager), cnnfast
(channels_last, what optimize() runs), and for 1x1 stride-1 layers mkl_gemm: the conv as an NHWC
GEMM (MKL addmm with the bias, then ReLU), the hand-written alternative the kernel was weighed
against (oneDNN won on every such layer, so the kernel does not use it there). Groups are per layer, so --benchmark-compare and the
summary show the providers side by side.
"""

import pytest
import torch
import torch.nn.functional as F

import cnnfast
from benchmarks.shapes import all_conv_layers

LAYERS = all_conv_layers()
PROVIDERS = ["eager", "eager_cl", "cnnfast", "mkl_gemm"]


def _layer_id(layer):
    model, (cin, cout, k, s, p, g, h, w, _) = layer
    return f"{model}-{cin}x{h}x{w}-k{k}s{s}g{g}-{cout}"


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("layer", LAYERS, ids=[_layer_id(layer) for layer in LAYERS])
def test_conv2d_bias_act(benchmark, run, layer, batch, provider):
    model, (cin, cout, k, s, p, g, h, w, _) = layer
    if provider == "mkl_gemm" and not (k == 1 and s == 1 and g == 1):
        pytest.skip("mkl_gemm applies to 1x1 stride-1 convs only")
    benchmark.group = f"conv b{batch} {_layer_id(layer)}"
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, h, w, generator=gen)
    weight = torch.randn(cout, cin // g, k, k, generator=gen) * (cin // g * k * k) ** -0.5
    bias = torch.randn(cout, generator=gen)
    out_hw = (h + 2 * p - k) // s + 1
    # ResNet-50's last conv of each block adds the shortcut; the others are conv+bias+ReLU.
    residual = torch.randn(batch, cout, out_hw, out_hw, generator=gen) if model == "resnet50" and k == 1 \
        and cout >= 256 and s == 1 else None
    if provider != "eager":
        x = x.contiguous(memory_format=torch.channels_last)
        residual = residual.contiguous(memory_format=torch.channels_last) if residual is not None else None
    if provider == "cnnfast":
        def fn():
            return cnnfast.ops.conv2d_bias_act(x, weight, bias, s, p, 1, g, residual, "relu")
    elif provider == "mkl_gemm":
        w_t = weight.reshape(cout, cin).t().contiguous()
        res2d = residual.permute(0, 2, 3, 1).reshape(-1, cout) if residual is not None else None

        def fn():
            y = torch.addmm(bias, x.permute(0, 2, 3, 1).reshape(-1, cin), w_t)
            if res2d is not None:
                y += res2d
            return torch.relu_(y).view(batch, h, w, cout).permute(0, 3, 1, 2)
    elif residual is not None:
        def fn():
            return F.relu(F.conv2d(x, weight, bias, s, p, 1, g) + residual)
    else:
        def fn():
            return F.relu(F.conv2d(x, weight, bias, s, p, 1, g))
    benchmark.extra_info.update(provider=provider, batch=batch, model=model,
                                gflop=2 * batch * cout * out_hw * out_hw * cin // g * k * k / 1e9)
    run(fn)
