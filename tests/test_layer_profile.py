"""`cnnfast profile` (cnnfast.layer_profile, cnnfast.layer_counters): conv signatures join the
runtimes' rows, medians over rounds, the report's table, and a real run of the cnnfast collector."""

import json
import os
import subprocess
import sys

from cnnfast import layer_counters, layer_profile


def test_conv_signature_leaves_out_the_batch_and_reads_grouped_filters():
    assert layer_counters.conv_signature([8, 64, 56, 56], [128, 64, 3, 3], [28, 28]) == [64, 56, 56, 128, 64, 3, 3, 28, 28]
    # OpenVINO's GroupConvolution filter: (G, K/G, C/G, R, S)
    assert layer_counters.conv_signature([1, 128, 28, 28], [32, 4, 4, 3, 3], [28, 28]) == [128, 28, 28, 128, 4, 3, 3, 28, 28]


def _round(cnnfast_us, ort_us, wall):
    conv_a, conv_b = [64, 56, 56, 64, 64, 3, 3, 56, 56], [64, 56, 56, 128, 64, 1, 1, 56, 56]
    return {
        "cnnfast": {"wall_ms": wall, "form": "module", "layers": [
            {"op": "cnnfast::conv2d_bias_act", "conv": conv_a, "impl": "onednn", "us": cnnfast_us},
            {"op": "cnnfast::conv2d_bias_act", "conv": conv_a, "impl": "onednn", "us": cnnfast_us},
            {"op": "cnnfast::conv2d_bias_act", "conv": conv_b, "impl": "pointwise", "us": 10.0},
            {"op": "cnnfast::max_pool2d", "conv": None, "impl": "", "us": 5.0}]},
        "onnxruntime": {"wall_ms": wall * 0.9, "form": "onnxruntime", "layers": [
            {"op": "Conv", "conv": conv_a, "impl": "nchwc", "us": ort_us},
            {"op": "Conv", "conv": conv_a, "impl": "nchwc", "us": ort_us},
            {"op": "MaxPool", "conv": None, "impl": "", "us": 4.0}]},
    }


def _result(rounds):
    runs = {m: [r[m] for r in rounds] for m in ("cnnfast", "onnxruntime")}
    runs["openvino"] = []
    return {"model": "toy", "batch": 2, "threads": 2, "runs": runs, "errors": {"openvino": "not installed (openvino)"}}


def test_summarize_sums_call_sites_and_takes_medians_over_rounds():
    s = layer_profile.summarize(_result([_round(100.0, 80.0, 1.0), _round(300.0, 90.0, 2.0), _round(200.0, 70.0, 3.0)]))
    key_a = (64, 56, 56, 64, 64, 3, 3, 56, 56)
    assert s["cnnfast"]["conv_us"][key_a] == 400.0  # two sites of 200 (the median round)
    assert s["cnnfast"]["sites"][key_a] == 2
    assert s["onnxruntime"]["conv_us"][key_a] == 160.0
    assert s["cnnfast"]["wall_ms"] == 2.0
    assert s["cnnfast"]["impl"][key_a] == "onednn"
    assert s["cnnfast"]["other_us"] == {"cnnfast::max_pool2d": 5.0}
    assert "openvino" not in s


def test_markdown_joins_convs_and_says_what_was_not_measured():
    text = layer_profile.markdown(_result([_round(200.0, 80.0, 2.0)]))
    assert "OpenVINO: not measured (not installed (openvino))" in text
    row = next(line for line in text.splitlines() if line.startswith("| 64->64 3x3 56x56->56x56"))
    assert row.split("|")[2].strip() == "2" and "onednn" in row and "2.50x" in row  # 400 / 160
    only_mine = next(line for line in text.splitlines() if line.startswith("| 64->128 1x1"))
    assert only_mine.split("|")[4].strip() == "-"  # ORT has no such conv: no ratio
    assert "cnnfast::max_pool2d 5" in text and "MaxPool 4" in text


def test_the_cnnfast_collector_counts_every_conv_of_a_real_model():
    out = layer_counters.collect("cnnfast", "resnet18", 1, None, threads=1, runs=2)
    convs = [layer for layer in out["layers"] if layer["conv"]]
    assert len(convs) == 20  # ResNet-18: stem, 16 block convs, 3 downsamples
    assert out["form"] in ("module", "script") and out["wall_ms"] > 0
    assert {layer["impl"] for layer in convs} <= {"engine", "onednn", "pointwise", "depthwise", "stem", "gemm", "portable", "winograd", "grouped"}
    assert [64, 56, 56, 64, 64, 3, 3, 56, 56] in [layer["conv"] for layer in convs]


def test_cli_writes_the_report(tmp_path):
    out = tmp_path / "profile"
    proc = subprocess.run([sys.executable, "-m", "cnnfast", "profile", "--models", "lenet5", "--batch", "1",
                           "--runs", "2", "--repeat", "1", "--out", str(out)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "cnnfast profile: lenet5 b1 round 1/1: cnnfast" in proc.stderr  # progress
    (result,) = json.loads(out.with_suffix(".json").read_text())
    assert result["runs"]["cnnfast"] and result["model"] == "lenet5"
    for peer in ("onnxruntime", "openvino"):  # optional extras: measured, or the reason why not
        assert result["runs"][peer] or "not installed" in result["errors"][peer] or "export" in result["errors"][peer]
    assert "### lenet5, batch 1" in out.with_suffix(".md").read_text()
