"""examples/cpp/cnnfast_run runs TorchScript models saved from cnnfast.optimize() in C++ only,
and its output checksum matches the same model run from Python."""

import re
import subprocess
import warnings

import pytest
import torch
import torchvision

import cnnfast
from cnnfast.testing import randomize_batchnorm


def _parse(stdout):
    return {k: float(v) for k, v in re.findall(r"^(checksum_\w+|latency_ms_median) (\S+)$", stdout, re.M)}


@pytest.mark.slow
# MobileNetV3 brings every other op through C++: SE blocks (se_squeeze/se_excite/se_scale_) and
# the linear_bias_act head.
@pytest.mark.parametrize("name,how", [("resnet18", "script"), ("googlenet", "trace"), ("mobilenet_v3_small", "script")])
def test_cpp_runner_matches_python(cnnfast_run, tmp_path, name, how):
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    torch.manual_seed(0)
    fast = cnnfast.optimize(randomize_batchnorm(getattr(torchvision.models, name)(**kwargs)).eval())
    batch, size = 2, 64
    # The program's input: sin(0.001 * i) over the elements in order.
    x = torch.arange(batch * 3 * size * size, dtype=torch.float32).mul_(0.001).sin_().reshape(batch, 3, size, size)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        ts = torch.jit.script(fast) if how == "script" else torch.jit.trace(fast, x)
        ts.save(str(tmp_path / "model.pt"))
        out = fast(x).double()
    proc = subprocess.run([str(cnnfast_run), str(tmp_path / "model.pt"), "--batch", str(batch), "--size",
                           str(size), "--iters", "2", "--threads", "2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    got = _parse(proc.stdout)
    assert f"output_shape {batch} 1000" in proc.stdout
    assert got["latency_ms_median"] > 0
    for key, ref in (("checksum_abs", out.abs().sum().item()), ("checksum_max", out.abs().max().item())):
        assert abs(got[key] - ref) <= 1e-5 * abs(ref), (key, got[key], ref)
    assert abs(got["checksum_sum"] - out.sum().item()) <= 1e-5 * out.abs().sum().item()


def test_cpp_runner_rejects_bad_arguments(cnnfast_run):
    proc = subprocess.run([str(cnnfast_run)], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr
    proc = subprocess.run([str(cnnfast_run), "/nonexistent.pt"], capture_output=True, text=True)
    assert proc.returncode == 1 and "cannot load" in proc.stderr
