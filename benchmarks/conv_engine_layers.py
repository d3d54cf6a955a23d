"""Every distinct conv of the lecture models, timed on each CPU kernel that can run it: cnnfast's
conv engine (brgemm microkernel), oneDNN through ATen, and the direct depthwise/1x1 kernels, with
the path the routing rule picks. All kernels are cnnfast's own ops in one process, alternated per
round, so the ratios are side by side. Writes JSON and a markdown table (and prints progress).

    python benchmarks/conv_engine_layers.py --batch 1 8 --out benchmarks/results/cpu_conv_engine
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cnnfast  # noqa: E402
from cnnfast import config  # noqa: E402
from benchmarks.cpu_timing import alternating_medians, cpu_model  # noqa: E402
from benchmarks.shapes import lecture_conv_layers  # noqa: E402


def _forced(path, fn):
    def call():
        with config.force_conv_path(path):
            return fn()
    return call


def _one_by_one(layer):
    cin, cout, (r, s), stride, padding, dilation, groups, h, w = layer
    return (r, s) == (1, 1) and tuple(stride) == (1, 1) and tuple(padding) == (0, 0) and groups == 1


def _depthwise(layer):
    cin, cout, _, _, _, _, groups, _, _ = layer
    return groups == cin == cout and groups > 1


def _winograd(layer):
    cin, cout, (r, s), stride, padding, dilation, groups, h, w = layer
    return (r, s) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1 and cin > 4


def _grouped(layer):
    cin, cout, _, _, _, _, groups, _, _ = layer
    return 1 < groups < cin


def _stem(layer):
    cin, cout, _, _, _, _, groups, _, _ = layer
    return cin <= 4 and cout <= 64 and groups == 1


def measure(layer, batch, seconds, only=None):
    cin, cout, (r, s), stride, padding, dilation, groups, h, w = layer
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, h, w, generator=g).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(cout, cin // groups, r, s, generator=g) / (cin // groups * r * s) ** 0.5
    bias = torch.randn(cout, generator=g)

    def op():
        return cnnfast.ops.conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, None, "relu")

    rule = config.conv_path_for(x.shape, weight.shape, stride, padding, dilation, groups)
    paths = ["engine", "onednn"]
    if _depthwise(layer):  # the direct kernel runs every depthwise conv (the engine does too, one group
        paths = ["onednn", "depthwise"]  # per call: 10-100x slower, not timed)
    elif _stem(layer):  # and the stem kernel every conv with few input channels
        paths = ["onednn", "stem"]
    elif _grouped(layer):  # the grouped kernel takes narrow groups (the engine is timed alongside)
        paths.append("grouped")
    elif rule in ("pointwise", "gemm"):
        paths.append(rule)
    elif _one_by_one(layer):  # the direct 1x1 kernel can run every such layer: timed to draw its limit
        paths.append("pointwise")
    if "engine" in paths:  # and the engine's Winograd form every 3x3 stride-1 layer it can take
        paths.append("winograd")
    paths = [p for p in paths if only is None or p in only]
    runnable = [p for p in paths if _runs_on(p, x, weight, stride, padding, dilation, groups)]
    times = alternating_medians({p: _forced(p, op) for p in runnable}, seconds, max_rounds=200)
    macs = batch * cout * (cin // groups) * r * s * ((h + 2 * padding[0] - dilation[0] * (r - 1) - 1) // stride[0] + 1) * (
        (w + 2 * padding[1] - dilation[1] * (s - 1) - 1) // stride[1] + 1)
    return {"rule": rule, "macs": macs, "us": {p: t * 1e6 for p, t in times.items()}}


def _runs_on(path, x, weight, stride, padding, dilation, groups):
    with config.force_conv_path(path):
        return config.conv_path_for(x.shape, weight.shape, stride, padding, dilation, groups) == path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=0.15, help="per layer and batch")
    p.add_argument("--models", nargs="*", default=None)
    p.add_argument("--kxk", action="store_true", help="only filters larger than 1x1")
    p.add_argument("--one-by-one", action="store_true", help="only 1x1 stride-1 convs (direct 1x1 kernel vs engine)")
    p.add_argument("--depthwise", action="store_true", help="only depthwise convs (direct kernel vs oneDNN)")
    p.add_argument("--stems", action="store_true", help="only convs with <= 4 input channels (stem kernel vs oneDNN)")
    p.add_argument("--grouped", action="store_true", help="only grouped, not depthwise convs (grouped kernel vs oneDNN)")
    p.add_argument("--winograd", action="store_true", help="only 3x3 stride-1 convs (Winograd form vs engine, oneDNN)")
    p.add_argument("--paths", nargs="+", default=None,
                   help="time only these paths (e.g. leave out a kernel that is 20x slower on this CPU)")
    p.add_argument("--out", default=None, help="path prefix for .json and .md")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    layers = lecture_conv_layers(a.models)
    if a.kxk:
        layers = [(m, layer) for m, layer in layers if layer[2] != (1, 1)]
    if a.one_by_one:
        layers = [(m, layer) for m, layer in layers if _one_by_one(layer)]
    if a.depthwise:
        layers = [(m, layer) for m, layer in layers if _depthwise(layer)]
    if a.stems:
        layers = [(m, layer) for m, layer in layers if _stem(layer)]
    if a.grouped:
        layers = [(m, layer) for m, layer in layers if _grouped(layer)]
    if a.winograd:
        layers = [(m, layer) for m, layer in layers if _winograd(layer)]
    rows = []
    with torch.inference_mode():
        for i, (model, layer) in enumerate(layers):
            for batch in a.batch:
                r = measure(layer, batch, a.seconds, a.paths)
                r.update(model=model, layer=list(layer), batch=batch)
                rows.append(r)
                us = r["us"]
                ratio = us["engine"] / us["onednn"] if "engine" in us and "onednn" in us else float("nan")
                for direct in ("depthwise", "stem", "grouped"):
                    if direct in us:
                        ratio = us[direct] / us["onednn"]
                print(f"[{i + 1}/{len(layers)}] {model:18s} {_name(layer):42s} b{batch} rule={r['rule']:9s} "
                      + " ".join(f"{k}={v:8.1f}us" for k, v in us.items()) + f"  /onednn={ratio:.2f}",
                      flush=True)
    info = {"cpu": cpu_model(), "threads": a.threads, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    if a.out:
        with open(a.out + ".json", "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)
        with open(a.out + ".md", "w") as f:
            f.write(_markdown(rows, info))
    return rows


def _name(layer):
    cin, cout, (r, s), stride, padding, dilation, groups, h, w = layer
    extra = (f" s{stride[0]}" if stride[0] > 1 else "") + (f" d{dilation[0]}" if dilation[0] > 1 else "") + (
        f" g{groups}" if groups > 1 else "")
    return f"{cin}->{cout} {r}x{s} {h}x{w}{extra}"


def _markdown(rows, info):
    out = ["# Conv layers of the lecture models: conv engine vs oneDNN vs direct kernels\n",
           f"{info['cpu']}, {info['threads']} threads, torch {info['torch']}, {info['date']}; fp32 channels_last, "
           "bias + ReLU; median us per call (`python benchmarks/conv_engine_layers.py`). `rule`: the path "
           "cnnfast's router takes (csrc/conv_engine/route.cpp).\n",
           "| model | layer | batch | rule | engine us | oneDNN us | direct us | winograd us | engine / oneDNN | "
           "direct / oneDNN | winograd / oneDNN | GFLOP/s (rule) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        us = r["us"]
        direct = next((us[k] for k in ("depthwise", "pointwise", "stem", "grouped", "gemm") if k in us), None)
        rule_us = us.get(r["rule"], min(us.values()))
        ratio = us["engine"] / us["onednn"] if "engine" in us and "onednn" in us else None
        direct_ratio = direct / us["onednn"] if direct and "onednn" in us else None
        engine = f"{us['engine']:.1f}" if "engine" in us else "-"
        wino = us.get("winograd")
        wino_ratio = f"{wino / us['onednn']:.2f}" if wino and "onednn" in us else ""
        out.append(f"| {r['model']} | {_name(r['layer'])} | {r['batch']} | {r['rule']} | "
                   f"{engine} | {us.get('onednn', float('nan')):.1f} | "
                   + (f"{direct:.1f}" if direct else "") + " | " + (f"{wino:.1f}" if wino else "") + " | "
                   + (f"{ratio:.2f}" if ratio else "") + " | " + (f"{direct_ratio:.2f}" if direct_ratio else "")
                   + f" | {wino_ratio} | {2 * r['macs'] / rule_us / 1e3:.0f} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
