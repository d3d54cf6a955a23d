"""torch.export of optimized lecture models (fake kernels, dynamic batch) and an AOTInductor
package of one, run from Python."""

import pytest
import torch

import cnnfast
from cnnfast import models
from cnnfast.testing import randomize_batchnorm, rel_err
from tests._helpers import MODEL_TOLERANCE

# Small inputs keep the test fast; every model here accepts them (Inception-v3 needs >= 75).
SIZE = {"inception_v3": 96}


def _optimized(name):
    torch.manual_seed(0)
    eager = randomize_batchnorm(models.get(name).build()).eval()
    return eager, cnnfast.optimize(eager)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(models.MODELS))
def test_export_with_dynamic_batch(name):
    eager, fast = _optimized(name)
    spec = models.get(name)
    size = SIZE.get(name, min(64, spec.input_size))
    x = spec.example_input(2, size)
    batch = torch.export.Dim("batch", min=1, max=256)
    ep = torch.export.export(fast, (x,), dynamic_shapes=({0: batch},))
    assert any("cnnfast." in str(n.target) for n in ep.graph.nodes)  # LeNet: one small_cnn call
    for b in (2, 3, 1):
        xb = spec.example_input(b, size, seed=b)
        with torch.inference_mode():
            assert rel_err(ep.module()(xb), eager(xb)) <= MODEL_TOLERANCE


@pytest.mark.slow
def test_aot_inductor_package(tmp_path):
    eager, fast = _optimized("resnet18")
    x = torch.randn(2, 3, 64, 64)
    ep = torch.export.export(fast, (x,), dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},))
    path = torch._inductor.aoti_compile_and_package(ep, package_path=str(tmp_path / "resnet18.pt2"))
    runner = torch._inductor.aoti_load_package(path)
    for b in (2, 5):
        xb = torch.randn(b, 3, 64, 64)
        with torch.inference_mode():
            assert rel_err(runner(xb), eager(xb)) <= MODEL_TOLERANCE
