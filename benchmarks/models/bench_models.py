"""Whole torchvision models, eager vs cnnfast.optimize(), batch 1 and 8, fp32 (random init and
random BatchNorm statistics, as in the tests)."""

import pytest
import torch
import torchvision

import cnnfast
from cnnfast.testing import randomize_batchnorm

MODELS = ["alexnet", "vgg16_bn", "googlenet", "inception_v3", "resnet18", "resnet50",
          "resnext50_32x4d", "densenet121", "shufflenet_v2_x1_0", "mobilenet_v3_large",
          "efficientnet_b0", "regnet_y_400mf"]
_cache = {}


def _models(name):
    if name not in _cache:
        _cache.clear()  # keep one model pair in memory at a time
        torch.manual_seed(0)
        kwargs = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
        eager = randomize_batchnorm(getattr(torchvision.models, name)(**kwargs)).eval()
        _cache[name] = {"eager": eager, "cnnfast": cnnfast.optimize(eager)}
    return _cache[name]


@pytest.mark.parametrize("provider", ["eager", "cnnfast"])
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("name", MODELS)
def test_model(benchmark, run, name, batch, provider):
    model = _models(name)[provider]
    size = 299 if name == "inception_v3" else 224
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    benchmark.group = f"model {name} b{batch}"
    benchmark.extra_info.update(provider=provider, batch=batch, model=name)
    run(lambda: model(x))
