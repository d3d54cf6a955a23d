"""The `cnnfast` command line: bench on a tiny subset writes valid JSON; bad arguments fail clearly."""

import json
import subprocess
import sys


def _cnnfast(*args):
    return subprocess.run([sys.executable, "-m", "cnnfast", *args], capture_output=True, text=True)


def test_bench_writes_a_table_and_json(tmp_path):
    proc = _cnnfast("bench", "--models", "resnet18", "--repeat", "1", "--min-seconds", "0.05",
                    "--threads", "2", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "| resnet18 | 1 |" in proc.stdout and "[1/1] resnet18" in proc.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    row = data["results"][0]
    assert row["model"] == "resnet18" and row["cnnfast_ms"] > 0 and row["max_rel_err"] < 1e-4
    assert data["machine"]["threads"] == 2


def test_bench_rejects_unknown_models_and_devices():
    proc = _cnnfast("bench", "--models", "resnet18,lenet9000")
    assert proc.returncode == 2 and "unknown model(s): lenet9000" in proc.stderr
    proc = _cnnfast("bench", "--device", "tpu")
    assert proc.returncode == 2 and "unsupported device" in proc.stderr


def test_info_prints_the_build():
    proc = _cnnfast("info")
    assert proc.returncode == 0 and json.loads(proc.stdout)["cpu_kernels"] is True


def test_bench_peers_in_process_and_chart(tmp_path):
    # LeNet-5 keeps torch.compile and the ONNX export quick; ONNX Runtime is an optional extra.
    proc = _cnnfast("bench", "--models", "lenet5", "--peers", "--in-process", "--repeat", "1", "--min-seconds",
                    "0.05", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "cnnfast / best peer" in proc.stdout
    row = json.loads((tmp_path / "results.json").read_text())["results"][0]
    for peer in ("channels_last", "torchscript", "torch.compile"):
        assert row["peers_ms"][peer] > 0, row["peer_errors"]
    assert "onnxruntime" in row["peers_ms"] or "not installed" in row["peer_errors"]["onnxruntime"]
    assert row["best_peer"] in row["peers_ms"] and row["cnnfast_vs_best_peer"] > 0
    assert row["cnnfast_script_ms"] > 0 and "cnnfast_script" not in row["peers_ms"]
    best = min(row["cnnfast_ms"], row["cnnfast_script_ms"])
    assert abs(row["cnnfast_vs_best_peer"] - best / row["peers_ms"][row["best_peer"]]) < 1e-9
    png = (tmp_path / "chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_peers_time_each_method_in_its_own_process(tmp_path):
    proc = _cnnfast("bench", "--models", "lenet5", "--peers", "--repeat", "1", "--min-seconds", "0.05",
                    "--threads", "1", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    row = json.loads((tmp_path / "results.json").read_text())["results"][0]
    assert row["isolated"] and row["eager_ms"] > 0 and row["cnnfast_ms"] > 0 and row["cnnfast_script_ms"] > 0
    assert row["max_rel_err"] < 1e-4
    for peer in ("onnxruntime", "openvino"):  # optional extras: measured, or the reason why not
        assert (peer in row["peers_ms"]) != (peer in row["peer_errors"])
    if row["best_peer"]:
        best = min(row["cnnfast_ms"], row["cnnfast_script_ms"])
        assert abs(row["cnnfast_vs_best_peer"] - best / row["peers_ms"][row["best_peer"]]) < 1e-9


def test_bench_as_avx2_needs_isolated_cpu_peers():
    proc = _cnnfast("bench", "--models", "lenet5", "--as-avx2")
    assert proc.returncode == 2 and "--as-avx2 needs --peers" in proc.stderr
    proc = _cnnfast("bench", "--models", "lenet5", "--peers", "--in-process", "--as-avx2")
    assert proc.returncode == 2 and "--as-avx2 needs --peers" in proc.stderr


def test_peer_worker_as_avx2_runs_cnnfast_at_that_level(tmp_path):
    # The worker the isolated bench runs: cnnfast at its AVX2 builds, routed without AVX-512, with
    # oneDNN capped through the environment (the parent's doing); it must still time the model.
    import os

    import pytest

    from cnnfast import config

    if "avx2" not in config.kernel_levels():
        pytest.skip("this CPU cannot run AVX2 code")
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2")
    proc = subprocess.run([sys.executable, "-m", "cnnfast.peer_worker", "--model", "mobilenet_v3_large",
                           "--method", "cnnfast", "--threads", "1", "--min-seconds", "0.01", "--min-samples", "2",
                           "--as-avx2"], capture_output=True, text=True, env=env)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    result = json.loads(line)
    assert "error" not in result and len(result["samples"]) >= 2, result


def test_layer_counters_as_avx2_reports_the_avx2_routes():
    # cnnfast profile --as-avx2's worker: the kernel each layer is filed under is the one the AVX2
    # rule picks, not this CPU's own: MobileNetV3-L's 16-channel depthwise conv on 112x112 (1.8M
    # multiply-adds) is past the AVX2 build's limit and goes to oneDNN there.
    import os

    import pytest

    from cnnfast import config, worker_io

    if "avx2" not in config.kernel_levels() or "avx512" not in config.kernel_levels():
        pytest.skip("needs a CPU with AVX-512, so that the two routes differ")

    def impls(env, *extra):
        proc = subprocess.run([sys.executable, "-m", "cnnfast.layer_counters", "--model", "mobilenet_v3_large",
                               "--method", "cnnfast", "--threads", "1", "--runs", "1", *extra],
                              capture_output=True, text=True, env=env)
        result = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
        assert "error" not in result, result
        return {layer["impl"] for layer in result["layers"] if layer["conv"]}

    avx2, own = impls(worker_io.as_avx2_env(), "--as-avx2"), impls(dict(os.environ))
    assert "onednn" in avx2 and "onednn" not in own

