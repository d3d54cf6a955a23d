"""Whole lecture models against the tools a user would otherwise pick, batch 1 and 8, fp32, the
benchmark's thread count: eager, channels_last eager, TorchScript (trace + freeze +
optimize_for_inference), torch.compile (inductor, freezing), ONNX Runtime (CPU EP, all graph
optimisations) and OpenVINO (CPU, latency hint, f32) from the same ONNX export, and
cnnfast.optimize(). ONNX Runtime and OpenVINO are optional extras (`pip install .[peers]`): a
provider that is missing or fails on a model is skipped with the reason. Each provider's one-off
setup (compile, export, session) is recorded in extra_info["setup_s"], not in the timing.

`cnnfast bench --peers` measures the same methods interleaved in one process (medians of
alternating passes), which is what the README's tables quote; this file gives the same comparison
in pytest-benchmark's format (`--benchmark-compare`, `--benchmark-json`).
"""

import time

import pytest
import torch

import cnnfast
from cnnfast import models
from cnnfast.peers import build_peers
from cnnfast.testing import randomize_batchnorm

MODELS = [m for m in models.MODELS if m != "lenet5_modern"]
PROVIDERS = ["eager", "channels_last", "torchscript", "torch.compile", "onnxruntime", "openvino", "cnnfast"]
_cache = {}


def _providers(name, batch):
    key = (name, batch)
    if key not in _cache:
        _cache.clear()  # one model's providers in memory at a time
        torch.manual_seed(0)
        eager = randomize_batchnorm(models.get(name).build()).eval()
        x = models.get(name).example_input(batch)
        start = time.perf_counter()
        fast = cnnfast.optimize(eager, example_input=x)
        built, setup, errors = build_peers(eager, x, torch.get_num_threads())
        built.update(eager=eager, cnnfast=fast)
        setup.update(eager=0.0, cnnfast=time.perf_counter() - start)
        _cache[key] = (x, built, setup, errors)
    return _cache[key]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("name", MODELS)
def test_peers(benchmark, run, name, batch, provider):
    x, built, setup, errors = _providers(name, batch)
    if provider not in built:
        pytest.skip(f"{provider}: {errors.get(provider, 'not set up')}")
    benchmark.group = f"peers {name} b{batch}"
    benchmark.extra_info.update(provider=provider, batch=batch, model=name, setup_s=setup[provider])
    fn = built[provider]
    run(lambda: fn(x))
