"""cnnfast small_cnn (a whole LeNet in one call) against the same network as per-layer cnnfast
ops and as stock PyTorch, LeNet-5 classic (tanh, average pool) and modern (ReLU, max pool),
batch 1 and 8. ONNX Runtime on the same models: `cnnfast bench --models lenet5,lenet5_modern --peers`."""

import pytest
import torch

import cnnfast
from cnnfast import models
from cnnfast.passes import fuse_small_cnn

PROVIDERS = ["eager", "cnnfast_per_layer", "cnnfast"]
_cache = {}


def _model(name, provider):
    key = (name, provider)
    if key not in _cache:
        torch.manual_seed(0)
        eager = models.get(name).build().eval()
        if provider == "eager":
            _cache[key] = eager
        elif provider == "cnnfast":
            _cache[key] = cnnfast.optimize(eager)
        else:  # the fusions of every other pass, without the whole-network call
            limit, fuse_small_cnn.MAX_PARAMS = fuse_small_cnn.MAX_PARAMS, 0
            try:
                _cache[key] = cnnfast.optimize(eager)
            finally:
                fuse_small_cnn.MAX_PARAMS = limit
    return _cache[key]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("name", ["lenet5", "lenet5_modern"])
def test_small_cnn(benchmark, run, name, batch, provider):
    model = _model(name, provider)
    x = torch.randn(batch, 1, 32, 32)
    benchmark.group = f"small_cnn {name} b{batch}"
    benchmark.extra_info.update(provider=provider, batch=batch)
    with torch.inference_mode():
        run(lambda: model(x))
