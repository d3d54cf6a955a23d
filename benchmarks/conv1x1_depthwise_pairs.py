"""Every 1x1 -> depthwise pair of MobileNetV3-L, EfficientNet-B0 and ShuffleNet V2: the
conv1x1_depthwise op (fused where its rule says so) against the same two convs as conv2d_bias_act
calls, alternated call by call in one process, with the fused kernel forced on every pair too (the
evidence for the rule in csrc/ops/conv1x1_depthwise/fuse_rule.cpp). Writes JSON and a markdown
table (and prints progress).

    python benchmarks/conv1x1_depthwise_pairs.py --batch 1 8 --out benchmarks/results/cpu_conv1x1_depthwise
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cnnfast import config  # noqa: E402
from benchmarks.cpu_timing import alternating_medians, cpu_model  # noqa: E402
from benchmarks.shapes import conv1x1_depthwise_inputs, conv1x1_depthwise_pairs  # noqa: E402


def measure(pair, batch, seconds):
    s, p, d, a1, a2 = pair[5:]
    x, w1, b1, w2, b2 = conv1x1_depthwise_inputs(pair, batch)

    def op():
        return torch.ops.cnnfast.conv1x1_depthwise(x, w1, b1, a1, w2, b2, [s, s], [p, p], [d, d], a2)

    def forced(fuse):
        def call():
            with config.force_conv1x1_depthwise(fuse):
                return op()
        return call

    fuses = config.conv1x1_depthwise_fuses(x.shape, w1.shape, w2.shape, s)
    with torch.inference_mode():
        t = alternating_medians({"fused": forced(True), "apart": forced(False)}, seconds)
    return fuses, t["fused"] * 1e6, t["apart"] * 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=1.0, help="per pair and batch")
    ap.add_argument("--out", default=None, help="path prefix for .json and .md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pairs = conv1x1_depthwise_pairs()
    rows, total = [], len(pairs) * len(args.batch)
    for i, ((model, pair), batch) in enumerate(((p, b) for p in pairs for b in args.batch), 1):
        fuses, fused_us, apart_us = measure(pair, batch, args.seconds)
        cin, c, h, w, k, s, p, d, a1, a2 = pair
        name = f"{cin}->{c} 1x1, {k}x{k}/{s} dw {h}x{w} {a1}/{a2}"
        rows.append(dict(model=model, pair=name, batch=batch, rule_fuses=fuses, fused_us=fused_us, apart_us=apart_us))
        print(f"[{i}/{total}] {model} {name} b{batch} rule: {'fused' if fuses else 'apart'}; "
              f"fused {fused_us:.1f} us, apart {apart_us:.1f} us, {fused_us / apart_us:.2f}x", flush=True)
    if args.out:
        meta = dict(cpu=cpu_model(), threads=args.threads, torch=torch.__version__, date=time.strftime("%Y-%m-%d"))
        with open(args.out + ".json", "w") as f:
            json.dump(dict(meta=meta, rows=rows), f, indent=1)
        with open(args.out + ".md", "w") as f:
            f.write("# conv1x1_depthwise: the 1x1 -> depthwise pairs of the mobile models, fused vs apart\n\n")
            f.write(f"{meta['cpu']}, {args.threads} threads, torch {meta['torch']}, {meta['date']}; fp32 "
                    "channels_last, random weights; median us per call of the op forced to fuse and forced to run "
                    "the two convs apart (its conv2d_bias_act calls), alternated in one process "
                    "(`python benchmarks/conv1x1_depthwise_pairs.py`). `rule`: what the op chooses "
                    "(csrc/ops/conv1x1_depthwise/fuse_rule.cpp).\n\n")
            f.write("| model | pair | batch | rule | fused us | apart us | fused / apart |\n|---|---|---|---|---|---|---|\n")
            for r in rows:
                f.write(f"| {r['model']} | {r['pair']} | {r['batch']} | {'fused' if r['rule_fuses'] else 'apart'} | "
                        f"{r['fused_us']:.1f} | {r['apart_us']:.1f} | {r['fused_us'] / r['apart_us']:.2f} |\n")
        print(f"wrote {args.out}.md and {args.out}.json")


if __name__ == "__main__":
    main()
