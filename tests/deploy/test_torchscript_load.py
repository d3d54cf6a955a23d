"""A TorchScript model saved from an optimized model loads in a fresh process that imports
cnnfast, and fails with a clear message in one that does not (as the README says)."""

import re
import subprocess
import sys
import warnings

import pytest
import torch
import torchvision

import cnnfast
from cnnfast.testing import randomize_batchnorm


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ts") / "resnet18_cnnfast.pt"
    fast = cnnfast.optimize(randomize_batchnorm(torchvision.models.resnet18()).eval())
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.jit.script(fast).save(str(path))
        torch.save({"x": x, "out": fast(x)}, str(path) + ".io")
    return path


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")


@pytest.mark.slow
def test_loads_in_a_fresh_process_with_cnnfast(saved):
    proc = _run(
        "import torch, cnnfast, warnings\nwarnings.simplefilter('ignore')\n"
        f"m = torch.jit.load({str(saved)!r}); io = torch.load({str(saved) + '.io'!r})\n"
        "torch.testing.assert_close(m(io['x']), io['out'], rtol=1e-6, atol=1e-6)\nprint('ok')\n")
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


@pytest.mark.slow
def test_without_cnnfast_the_error_names_the_missing_op(saved):
    proc = _run(f"import torch, warnings\nwarnings.simplefilter('ignore')\ntorch.jit.load({str(saved)!r})\n")
    assert proc.returncode != 0
    # The first cnnfast op the loader meets (the input's to_channels_last, then the convs).
    assert re.search(r"cnnfast::(to_channels_last|conv2d_bias_act)", proc.stderr), proc.stderr[-2000:]
