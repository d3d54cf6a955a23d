"""What the avg_pool_as_conv pass buys: Inception-v3's stride-1 average pools timed as ATen's
avg_pool2d and as the depthwise conv the pass makes of them, then whole models optimized with and
without the pass. Both sides in one process, alternated call by call (per round for the pools, per
inference for the models), so the ratios are side by side. Writes JSON and a markdown table.

    python benchmarks/avg_pool_as_conv.py --batch 1 8 --out benchmarks/results/cpu_avg_pool_as_conv
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cnnfast  # noqa: E402
from cnnfast.testing import randomize_batchnorm  # noqa: E402
from benchmarks.cpu_timing import alternating_medians, cpu_model  # noqa: E402

# Inception-v3's branch pools (3x3, stride 1, padding 1): channels x map side, once each.
POOLS = [(192, 35), (256, 35), (288, 35), (768, 17), (1280, 8), (2048, 8)]


def time_pools(batch, seconds):
    rows = []
    for c, side in POOLS:
        x = torch.randn(batch, c, side, side).contiguous(memory_format=torch.channels_last)
        w = torch.full((c, 1, 3, 3), 1.0 / 9.0)
        conv = lambda: cnnfast.ops.conv2d_bias_act(x, w, None, 1, 1, 1, c)  # noqa: E731
        pool = lambda: F.avg_pool2d(x, 3, 1, 1)  # noqa: E731
        us = {k: v * 1e6 for k, v in alternating_medians({"aten": pool, "conv": conv}, seconds).items()}
        rows.append({"channels": c, "side": side, "batch": batch, "us": us})
        print(f"pool {c}x{side}x{side} b{batch}: ATen {us['aten']:.1f} us, as depthwise conv {us['conv']:.1f} us "
              f"({us['conv'] / us['aten']:.2f}x)", flush=True)
    return rows


def time_model(name, batch, pairs):
    kw = dict(init_weights=False, aux_logits=False) if name == "inception_v3" else {}
    model = randomize_batchnorm(getattr(torchvision.models, name)(**kw)).eval()
    side = 299 if name == "inception_v3" else 224
    x = torch.randn(batch, 3, side, side)
    with torch.inference_mode():
        on = cnnfast.optimize(model, example_input=x, script=True)
        off = cnnfast.optimize(model, example_input=x, script=True, skip_passes=("avg_pool_as_conv",))
        for _ in range(3):
            on(x), off(x)
        t_on, t_off = [], []
        for _ in range(pairs):
            t0 = time.perf_counter()
            on(x)
            t1 = time.perf_counter()
            off(x)
            t_on.append(t1 - t0)
            t_off.append(time.perf_counter() - t1)
    ratios = sorted(a / b for a, b in zip(t_on, t_off))
    row = {"model": name, "batch": batch, "pairs": pairs, "ms_with": statistics.median(t_on) * 1e3,
           "ms_without": statistics.median(t_off) * 1e3, "ratio": statistics.median(ratios),
           "ratio_q25": ratios[len(ratios) // 4], "ratio_q75": ratios[3 * len(ratios) // 4]}
    print(f"{name} b{batch}: {row['ms_with']:.2f} ms with the pass, {row['ms_without']:.2f} without; "
          f"paired ratio {row['ratio']:.3f} ({row['ratio_q25']:.3f}-{row['ratio_q75']:.3f})", flush=True)
    return row


def write(out, machine, pools, models):
    with open(out + ".json", "w") as f:
        json.dump({"machine": machine, "pools": pools, "models": models}, f, indent=1)
    lines = [
        "# Stride-1 average pools as depthwise convs (the avg_pool_as_conv pass)", "",
        f"{machine['cpu']}, {machine['threads']} threads, torch {machine['torch']}, {machine['date']}; fp32 "
        "channels_last (`python benchmarks/avg_pool_as_conv.py`). Pools: median us per call, ATen's "
        "avg_pool2d and cnnfast's depthwise conv (weights 1/9) alternated per round. Models: optimized with "
        "and without the pass (TorchScript), one inference of each in turn; the ratio is the median of the "
        "per-pair ratios (quartiles in brackets).", "",
        "| pool (C x H x W, 3x3 s1 p1) | batch | ATen us | depthwise conv us | conv / ATen |",
        "|---|---|---|---|---|"]
    for r in pools:
        lines.append(f"| {r['channels']} x {r['side']} x {r['side']} | {r['batch']} | {r['us']['aten']:.1f} | "
                     f"{r['us']['conv']:.1f} | {r['us']['conv'] / r['us']['aten']:.2f} |")
    if models:
        lines += ["", "| model | batch | ms with the pass | ms without | with / without |", "|---|---|---|---|---|"]
        for r in models:
            lines.append(f"| {r['model']} | {r['batch']} | {r['ms_with']:.2f} | {r['ms_without']:.2f} | "
                         f"{r['ratio']:.3f} ({r['ratio_q25']:.3f}-{r['ratio_q75']:.3f}, {r['pairs']} pairs) |")
    with open(out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=0.5, help="per pool and batch")
    ap.add_argument("--models", nargs="*", default=["inception_v3"])
    ap.add_argument("--pairs", type=int, nargs=2, default=[200, 25], help="inferences per side at batch 1, at > 1")
    ap.add_argument("--out", default="benchmarks/results/cpu_avg_pool_as_conv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = {"cpu": cpu_model(), "threads": args.threads, "torch": torch.__version__,
               "date": time.strftime("%Y-%m-%d")}
    pools = [r for b in args.batch for r in time_pools(b, args.seconds)]
    models = [time_model(m, b, args.pairs[0] if b == 1 else args.pairs[1]) for m in args.models for b in args.batch]
    write(args.out, machine, pools, models)
    print(f"wrote {args.out}.md and {args.out}.json")


if __name__ == "__main__":
    main()
