"""Whole torchvision models, eager vs cnnfast.optimize(), batch 1 and 8, fp32 (random init and
random BatchNorm statistics, as in the tests)."""

import pytest
import torch

import cnnfast
from cnnfast import models
from cnnfast.testing import randomize_batchnorm

MODELS = list(models.MODELS)
_cache = {}


def _models(name):
    if name not in _cache:
        _cache.clear()  # keep one model pair in memory at a time
        torch.manual_seed(0)
        eager = randomize_batchnorm(models.get(name).build()).eval()
        _cache[name] = {"eager": eager, "cnnfast": cnnfast.optimize(eager)}
    return _cache[name]


@pytest.mark.parametrize("provider", ["eager", "cnnfast"])
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("name", MODELS)
def test_model(benchmark, run, name, batch, provider):
    model = _models(name)[provider]
    x = models.get(name).example_input(batch)
    benchmark.group = f"model {name} b{batch}"
    benchmark.extra_info.update(provider=provider, batch=batch, model=name)
    run(lambda: model(x))
