"""The squeeze of an SE block taken by the conv before it (conv2d_bias_act_mean, or
conv1x1_depthwise_mean for an inverted residual's 1x1 -> depthwise pair: the kernel summing each
output block as it stores it) against the conv then se_squeeze reading the map back: per conv of
MobileNetV3-L, EfficientNet-B0, SE-ResNet-50 and RegNetY-400MF, and whole models (the
fuse_se_squeeze pass on against skipped, both scripted), alternated in one process. Writes JSON
and a markdown table (and prints progress).

    python benchmarks/conv_se_squeeze.py --batch 1 8 --out benchmarks/results/cpu_conv_se_squeeze
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cnnfast  # noqa: E402
from benchmarks import pass_ab  # noqa: E402
from benchmarks.cpu_timing import alternating_medians, cpu_model  # noqa: E402
from benchmarks.shapes import conv1x1_depthwise_inputs, se_squeeze_convs, se_squeeze_pairs  # noqa: E402
from cnnfast import config  # noqa: E402


def measure_conv(conv, batch, seconds):
    cin, k_out, h, w, k, s, p, groups, act = conv
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, cin, h, w, generator=g).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.randn(k_out, cin // groups, k, k, generator=g) / k, torch.randn(k_out, generator=g)
    args = (x, weight, bias, [s, s], [p, p], [1, 1], groups, None, act)

    def taken():
        return torch.ops.cnnfast.conv2d_bias_act_mean(*args)

    def apart():
        y = torch.ops.cnnfast.conv2d_bias_act(*args)
        return y, torch.ops.cnnfast.se_squeeze(y)

    path = config.conv_path_for(x.shape, weight.shape, s, p, 1, groups)
    with torch.inference_mode():
        t = alternating_medians({"taken": taken, "apart": apart}, seconds)
    return path, t["taken"] * 1e6, t["apart"] * 1e6


def measure_pair(pair, batch, seconds):
    s, p, d, a1, a2 = pair[5:]
    x, w1, b1, w2, b2 = conv1x1_depthwise_inputs(pair, batch)
    args = (x, w1, b1, a1, w2, b2, [s, s], [p, p], [d, d], a2)

    def taken():
        return torch.ops.cnnfast.conv1x1_depthwise_mean(*args)

    def apart():
        y = torch.ops.cnnfast.conv1x1_depthwise(*args)
        return y, torch.ops.cnnfast.se_squeeze(y)

    fused = config.conv1x1_depthwise_fuses(x.shape, w1.shape, w2.shape, s)
    with torch.inference_mode():
        t = alternating_medians({"taken": taken, "apart": apart}, seconds)
    return "1x1+depthwise" + ("" if fused else " (2 calls)"), t["taken"] * 1e6, t["apart"] * 1e6


def measure_model(name, batch, seconds):
    r = pass_ab.measure("fuse_se_squeeze", name, batch, seconds)
    return r["with_ms"], r["without_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0, help="per conv and batch")
    ap.add_argument("--model-seconds", type=float, default=10.0, help="per model and batch")
    ap.add_argument("--models", nargs="*", default=["mobilenet_v3_large", "efficientnet_b0", "se_resnet50",
                                                     "regnet_y_400mf"])
    ap.add_argument("--out", default=None, help="path prefix for .json and .md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    convs = [("conv", m, c) for m, c in se_squeeze_convs(tuple(args.models))]
    convs += [("pair", m, c) for m, c in se_squeeze_pairs(tuple(args.models))]
    rows, total = [], len(convs) * len(args.batch)
    for i, ((kind, model, conv), batch) in enumerate(((c, b) for c in convs for b in args.batch), 1):
        if kind == "conv":
            path, taken_us, apart_us = measure_conv(conv, batch, args.seconds)
            cin, k_out, h, w, k, s, p, groups, act = conv
            name = f"{cin}->{k_out} {k}x{k}/{s}" + (f" g{groups}" if groups > 1 else "") + f" {h}x{w} {act}"
        else:
            path, taken_us, apart_us = measure_pair(conv, batch, args.seconds)
            cin, c, h, w, k, s, p, d, a1, a2 = conv
            name = f"{cin}->{c} 1x1 + {k}x{k}/{s} dw {h}x{w} {a1}/{a2}"
        rows.append(dict(model=model, conv=name, batch=batch, path=path, taken_us=taken_us, apart_us=apart_us))
        print(f"[{i}/{total}] {model} {name} b{batch} ({path}): in the kernel {taken_us:.1f} us, "
              f"conv + se_squeeze {apart_us:.1f} us, {taken_us / apart_us:.2f}x", flush=True)
    model_rows = []
    for name in args.models:
        for batch in args.batch:
            on_ms, off_ms = measure_model(name, batch, args.model_seconds)
            model_rows.append(dict(model=name, batch=batch, on_ms=on_ms, off_ms=off_ms))
            print(f"{name} b{batch}: pass on {on_ms:.3f} ms, skipped {off_ms:.3f} ms, {on_ms / off_ms:.3f}x",
                  flush=True)
    if args.out:
        meta = dict(cpu=cpu_model(), threads=args.threads, torch=torch.__version__, date=time.strftime("%Y-%m-%d"))
        with open(args.out + ".json", "w") as f:
            json.dump(dict(meta=meta, convs=rows, models=model_rows), f, indent=1)
        with open(args.out + ".md", "w") as f:
            f.write("# The SE squeeze taken by the conv kernel (conv2d_bias_act_mean) vs conv + se_squeeze\n\n")
            f.write(f"{meta['cpu']}, {args.threads} threads, torch {meta['torch']}, {meta['date']}; fp32 "
                    "channels_last, random weights; median us per call, the two forms alternated in one process "
                    "(`python benchmarks/conv_se_squeeze.py`). `path`: the conv kernel the router picks "
                    "(the ones that do not sum as they store run conv + se_squeeze inside the op too); "
                    "`1x1+depthwise`: a pair in one `conv1x1_depthwise_mean` call, fused or as two convs.\n\n")
            f.write("| model | conv | batch | path | in the kernel us | conv + se_squeeze us | ratio |\n"
                    "|---|---|---|---|---|---|---|\n")
            for r in rows:
                f.write(f"| {r['model']} | {r['conv']} | {r['batch']} | {r['path']} | {r['taken_us']:.1f} | "
                        f"{r['apart_us']:.1f} | {r['taken_us'] / r['apart_us']:.2f} |\n")
            f.write("\nWhole models, scripted, `fuse_se_squeeze` on against skipped, alternated in one process "
                    f"({args.model_seconds:g} s each):\n\n| model | batch | on ms | skipped ms | ratio |\n"
                    "|---|---|---|---|---|\n")
            for r in model_rows:
                f.write(f"| {r['model']} | {r['batch']} | {r['on_ms']:.3f} | {r['off_ms']:.3f} | "
                        f"{r['on_ms'] / r['off_ms']:.3f} |\n")
        print(f"wrote {args.out}.md and {args.out}.json")


if __name__ == "__main__":
    main()
