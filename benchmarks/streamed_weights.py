"""Fully connected and SE-excitation layers of the lecture models at inference batch sizes, timed
with their weights in cache ("hot": one weight set called again and again) and from memory
("cold": calls rotate over enough copies of the weights to fill twice the L3 cache, as read at run
time), the way a layer meets its weights inside a model at batch 1. Prints GB/s of weight read.
With --compare, adds the ratio to an earlier run's JSON (another build, same machine).

    python benchmarks/streamed_weights.py --out benchmarks/results/cpu_streamed_weights
    python benchmarks/streamed_weights.py --compare before.json --out after
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cnnfast  # noqa: E402,F401  (registers the ops)
from benchmarks.cpu_timing import cpu_model  # noqa: E402

# (model, in, out) per kind: linear = one layer (in -> out); se = se_excite over `in` channels
# with `out` hidden units (two layers, in -> out -> in).
SHAPES = {
    "linear": [("mobilenet_v3_large", 960, 1280), ("mobilenet_v3_large", 1280, 1000), ("resnet50", 2048, 1000),
               ("alexnet", 4096, 4096), ("alexnet", 9216, 4096)],
    "se": [("mobilenet_v3_large", 960, 240), ("mobilenet_v3_large", 672, 168), ("mobilenet_v3_large", 480, 120),
           ("mobilenet_v3_large", 120, 32), ("efficientnet_b0", 1152, 48), ("efficientnet_b0", 672, 28),
           ("regnet_y_400mf", 440, 110), ("se_resnet50", 2048, 128)],
}
LAYERS = [(model, kind, cin, cout) for kind, shapes in SHAPES.items() for model, cin, cout in shapes]


def weight_sets(kind, cin, cout, copies):
    if kind == "linear":
        return [(torch.randn(cout, cin), torch.randn(cout)) for _ in range(copies)]
    return [(torch.randn(cout, cin), torch.randn(cout), torch.randn(cin, cout), torch.randn(cin)) for _ in range(copies)]


def call(kind, x, w):
    if kind == "linear":
        return torch.ops.cnnfast.linear_bias_act(x, *w, "relu")
    return torch.ops.cnnfast.se_excite(x, *w, "relu", "hardsigmoid")


def seconds_per_call(kind, x, sets, calls, rounds=7):
    """Best of `rounds` rounds of `calls` calls, cycling over the weight sets."""
    for w in sets:
        call(kind, x, w)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for i in range(calls):
            call(kind, x, sets[i % len(sets)])
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def measure(layer, batch, l3_bytes):
    model, kind, cin, cout = layer
    weight_bytes = cin * cout * 4 * (1 if kind == "linear" else 2)
    copies = max(2, -(-2 * l3_bytes // weight_bytes))
    sets = weight_sets(kind, cin, cout, copies)
    x = torch.randn(batch, cin)
    calls = max(copies, int(2e7 // weight_bytes) + 10)
    with torch.inference_mode():
        hot = seconds_per_call(kind, x, sets[:1], calls)
        cold = seconds_per_call(kind, x, sets, calls)
    name = f"{cin}->{cout}" if kind == "linear" else f"{cin}->{cout}->{cin}"
    return dict(model=model, kind=kind, layer=name, batch=batch, mb=weight_bytes / 1e6,
                hot_us=hot * 1e6, cold_us=cold * 1e6, cold_gbs=weight_bytes / cold / 1e9)


def table(rows, before):
    prev = {(r["layer"], r["kind"], r["batch"]): r for r in before or []}
    head = "| model | layer | batch | MB | hot us | cold us | cold GB/s |"
    sep = "|---|---|---:|---:|---:|---:|---:|"
    if before:
        head += " hot / before | cold / before |"
        sep += "---:|---:|"
    lines = [head, sep]
    for r in rows:
        line = (f"| {r['model']} | {r['kind']} {r['layer']} | {r['batch']} | {r['mb']:.2f} | {r['hot_us']:.1f} | "
                f"{r['cold_us']:.1f} | {r['cold_gbs']:.1f} |")
        p = prev.get((r["layer"], r["kind"], r["batch"]))
        if before:
            line += (f" {r['hot_us'] / p['hot_us']:.2f} | {r['cold_us'] / p['cold_us']:.2f} |" if p else " - | - |")
        lines.append(line)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compare", help="JSON of an earlier run to show ratios against")
    ap.add_argument("--out", help="write OUT.json and OUT.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    l3 = cnnfast._C._cache_bytes()[2]
    before = json.load(open(args.compare))["rows"] if args.compare else None
    rows, total = [], len(LAYERS) * len(args.batch)
    for i, (layer, batch) in enumerate(((l, b) for l in LAYERS for b in args.batch), 1):
        rows.append(measure(layer, batch, l3))
        r = rows[-1]
        print(f"[{i}/{total}] {r['model']} {r['kind']} {r['layer']} b{batch}: hot {r['hot_us']:.1f} us, "
              f"cold {r['cold_us']:.1f} us ({r['cold_gbs']:.1f} GB/s)", flush=True)
    md = (f"# FC and SE layers, weights hot and from memory\n\n{cpu_model()}, {args.threads} threads, "
          f"L3 {l3 // 2**20} MB (cold: copies filling twice that), torch {torch.__version__}\n\n"
          f"{table(rows, before)}\n")
    print(md)
    if args.out:
        with open(args.out + ".json", "w") as f:
            json.dump(dict(cpu=cpu_model(), threads=args.threads, l3_bytes=l3, rows=rows), f, indent=1)
        with open(args.out + ".md", "w") as f:
            f.write(md)


if __name__ == "__main__":
    main()
