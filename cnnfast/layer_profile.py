"""`cnnfast profile`: where the time goes, layer by layer, in cnnfast and in ONNX Runtime and
OpenVINO, each measured by its own counters in its own process (cnnfast.layer_counters). Convs
are joined across runtimes by their signature (channels, map, filter, output map); everything else
is summed per runtime under the runtime's own op names, since the runtimes fuse and split the
non-conv work differently (OpenVINO's reorders, ONNX Runtime's NCHWc conversions, cnnfast's
pools and copies). Writes a Markdown report and the raw rows as JSON."""

import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Optional

from cnnfast import worker_io
from cnnfast.layer_counters import METHODS

SHORT = {"cnnfast": "cnnfast", "onnxruntime": "ORT", "openvino": "OpenVINO"}


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _worker(method: str, model: str, batch: int, onnx_path: str, threads: int, runs: int, as_avx2: bool) -> dict:
    args = ["--model", model, "--batch", str(batch), "--method", method, "--onnx", onnx_path,
            "--threads", str(threads), "--runs", str(runs)]
    return worker_io.run("cnnfast.layer_counters", args, as_avx2)


def profile_model(model: str, batch: int, threads: int = 2, runs: int = 20, repeat: int = 2,
                  as_avx2: bool = False) -> Dict:
    """{"model", "batch", "runs": {method: [worker result per round]}, "errors": {method: str}}:
    the three runtimes' per-layer counters, rounds alternating with a pause between processes.
    as_avx2: every worker as on a CPU without AVX-512 (worker_io.as_avx2_env)."""
    import torch

    from cnnfast import models
    from cnnfast.peers import _onnx_bytes
    from cnnfast.testing import randomize_batchnorm

    spec = models.get(model)
    torch.manual_seed(0)
    eager = randomize_batchnorm(spec.build()).eval()
    x = spec.example_input(batch)
    result: Dict = {"model": model, "batch": batch, "threads": threads, "runs": {m: [] for m in METHODS},
                    "errors": {}, "as_avx2": as_avx2}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "model.onnx")
        try:
            with open(onnx_path, "wb") as f:
                f.write(_onnx_bytes(eager, x))
        except Exception as e:  # no onnx/onnxscript installed, or a model the exporter rejects
            reason = f"not installed ({e.name})" if isinstance(e, ImportError) else f"ONNX export failed: {type(e).__name__}"
            result["errors"].update(onnxruntime=reason, openvino=reason)
        for r in range(repeat):
            for m in METHODS:
                if m in result["errors"]:
                    continue
                _progress(f"cnnfast profile: {model} b{batch} round {r + 1}/{repeat}: {m}")
                out = _worker(m, model, batch, onnx_path, threads, runs, as_avx2)
                if "error" in out:
                    result["errors"][m] = out["error"]
                else:
                    result["runs"][m].append(out)
                time.sleep(0.3)
    if as_avx2:
        result["avx512_hidden"] = all(o.get("avx512_hidden") for runs in result["runs"].values() for o in runs)
    return result


def _median(v: List[float]) -> float:
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


def summarize(result: Dict) -> Dict:
    """Per method: wall ms (median over rounds), conv time per signature (us, summed over call
    sites; median over rounds), non-conv time per op name, and which kernels ran each signature."""
    out: Dict = {}
    for m, rounds in result["runs"].items():
        if not rounds:
            continue
        convs: Dict[tuple, List[float]] = defaultdict(list)
        other: Dict[str, List[float]] = defaultdict(list)
        sites: Dict[tuple, int] = {}
        impls: Dict[tuple, set] = defaultdict(set)
        for rnd in rounds:
            c_sum: Dict[tuple, float] = defaultdict(float)
            o_sum: Dict[str, float] = defaultdict(float)
            c_sites: Dict[tuple, int] = defaultdict(int)
            for layer in rnd["layers"]:
                if layer["conv"]:
                    key = tuple(layer["conv"])
                    c_sum[key] += layer["us"]
                    c_sites[key] += 1
                    if layer["impl"]:
                        impls[key].add(layer["impl"])
                else:
                    o_sum[layer["op"]] += layer["us"]
            for k, v in c_sum.items():
                convs[k].append(v)
            for k, v in o_sum.items():
                other[k].append(v)
            sites = dict(c_sites)
        out[m] = {"wall_ms": _median([r["wall_ms"] for r in rounds]),
                  "conv_us": {k: _median(v) for k, v in convs.items()}, "sites": sites,
                  "impl": {k: "/".join(sorted(v)) for k, v in impls.items()},
                  "other_us": {k: _median(v) for k, v in other.items()}}
    return out


def _sig(key: tuple) -> str:
    c, h, w, k, cg, r, s, oh, ow = key
    groups = c // cg if cg else 1
    g = f" g{groups}" if groups > 1 else ""
    return f"{c}->{k} {r}x{s}{g} {h}x{w}->{oh}x{ow}"


def markdown(result: Dict, top: int = 25) -> str:
    s = summarize(result)
    methods = [m for m in METHODS if m in s]
    lines = [f"### {result['model']}, batch {result['batch']}, {result['threads']} threads", ""]
    if result.get("as_avx2"):
        lines += [f"As on a CPU without AVX-512 (--as-avx2): {worker_io.as_avx2_note([result])}.", ""]
    for m, e in result["errors"].items():
        lines.append(f"- {SHORT[m]}: not measured ({e})")
    walls = " | ".join(f"{SHORT[m]} {s[m]['wall_ms']:.2f} ms" for m in methods)
    sums = " | ".join(f"{SHORT[m]} {(sum(s[m]['conv_us'].values()) + sum(s[m]['other_us'].values())) / 1e3:.2f} ms"
                      for m in methods)
    conv_sums = " | ".join(f"{SHORT[m]} {sum(s[m]['conv_us'].values()) / 1e3:.2f} ms" for m in methods)
    lines += [f"- whole inference, counters off: {walls}", f"- sum of the counters: {sums}",
              f"- of which convolutions: {conv_sums}", ""]
    keys = set()
    for m in methods:
        keys |= set(s[m]["conv_us"])
    ranked = sorted(keys, key=lambda k: -max(s[m]["conv_us"].get(k, 0.0) for m in methods))
    head = "| conv (C->K RxS, map) | sites | " + " | ".join(f"{SHORT[m]} us" for m in methods)
    head += " | cnnfast kernel | cnnfast / best peer |" if "cnnfast" in s else " |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for k in ranked[:top]:
        row = [_sig(k), str(max(s[m]["sites"].get(k, 0) for m in methods))]
        row += [f"{s[m]['conv_us'][k]:.0f}" if k in s[m]["conv_us"] else "-" for m in methods]
        if "cnnfast" in s:
            mine = s["cnnfast"]["conv_us"].get(k)
            peers = [s[m]["conv_us"][k] for m in methods if m != "cnnfast" and k in s[m]["conv_us"]]
            row += [s["cnnfast"]["impl"].get(k, "-"), f"{mine / min(peers):.2f}x" if mine and peers else "-"]
        lines.append("| " + " | ".join(row) + " |")
    if len(ranked) > top:
        rest = {m: sum(v for k, v in s[m]["conv_us"].items() if k in ranked[top:]) for m in methods}
        lines.append(f"| {len(ranked) - top} smaller conv signatures | | " +
                     " | ".join(f"{rest[m]:.0f}" for m in methods) + (" | | |" if "cnnfast" in s else " |"))
    lines += ["", "Everything else, by each runtime's own op names (us per inference):", ""]
    for m in methods:
        items = sorted(s[m]["other_us"].items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{name} {us:.0f}" for name, us in items[:8])
        more = sum(us for _, us in items[8:])
        lines.append(f"- {SHORT[m]}: {shown}" + (f", others {more:.0f}" if items[8:] else ""))
    return "\n".join(lines) + "\n"


def run(models: List[str], batches: List[int], threads: int, runs: int, repeat: int,
        out: Optional[str], as_avx2: bool = False) -> int:
    import torch

    if as_avx2:
        from cnnfast import config

        if "avx2" not in config.kernel_levels():
            _progress("cnnfast profile: --as-avx2: this CPU cannot run AVX2 code")
            return 2
    torch.set_num_threads(threads)
    results, text = [], []
    for model in models:
        for batch in batches:
            r = profile_model(model, batch, threads, runs, repeat, as_avx2)
            results.append(r)
            text.append(markdown(r))
            print(text[-1], flush=True)
    if out:
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with open(out + ".json", "w") as f:
            json.dump(results, f, indent=1)
        with open(out + ".md", "w") as f:
            f.write("\n".join(text))
        _progress(f"cnnfast profile: wrote {out}.md and {out}.json")
    return 0
