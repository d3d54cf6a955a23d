"""linear_bias_act vs eager act(F.linear(x)) (MKL GEMM/GEMV + the activation) on the classifier
heads of the lecture models, batch 1 and 8."""

import pytest
import torch
import torch.nn.functional as F

from cnnfast.contracts.activations import apply_activation

# (model, K, M, activation after the layer)
HEADS = [
    ("resnet50-fc", 2048, 1000, "none"),
    ("mobilenet_v3-classifier0", 960, 1280, "hardswish"),
    ("mobilenet_v3-classifier3", 1280, 1000, "none"),
    ("vgg16-classifier0", 25088, 4096, "relu"),
    ("vgg16-classifier3", 4096, 4096, "relu"),
    ("lenet5-f6", 120, 84, "tanh"),
]
PROVIDERS = ["eager", "cnnfast"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("head", HEADS, ids=[h[0] for h in HEADS])
def test_linear_bias_act(benchmark, run, head, batch, provider):
    name, k, m, act = head
    benchmark.group = f"linear b{batch} {name}-{k}x{m}-{act}"
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(batch, k, generator=g), torch.randn(m, k, generator=g) / k ** 0.5, torch.randn(m, generator=g)
    benchmark.extra_info.update(provider=provider, batch=batch)
    if provider == "cnnfast":
        run(lambda: torch.ops.cnnfast.linear_bias_act(x, w, b, act))
    else:
        run(lambda: apply_activation(F.linear(x, w, b), act))
