"""Speed of optimize() against eager on the corpus of models this project did not write
(tests/corpus: timm's lecture-family models and the user-style models), fp32 CPU, batch 1 and 8,
eager and optimized alternated call by call in one process.

    python benchmarks/corpus_speed.py --out benchmarks/results/cpu_corpus_speed [--models resnet18 ...]

Writes <out>.json and <out>.md (one row per model and batch: ms eager, ms cnnfast, ratio,
optimize() seconds, Conv2d coverage, capture route). optimize() is timed again in a fresh
process per model, as a user meets it: in a process that has already built and freed many big
models, the same call was seen taking up to 3x longer (allocation of fresh memory)."""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import cnnfast  # noqa: E402
from benchmarks.cpu_timing import alternating_medians, cpu_model  # noqa: E402
from cnnfast.testing import randomize_batchnorm  # noqa: E402
from tests.corpus.timm_models import TIMM_CORPUS  # noqa: E402
from tests.corpus.user_models import USER_MODELS  # noqa: E402


def _models(names):
    import timm

    for name, size in TIMM_CORPUS.items():
        if not names or name in names:
            yield name, (lambda n=name: timm.create_model(n, pretrained=False)), (3, size, size)
    for name, (build, shape) in USER_MODELS.items():
        if not names or name in names:
            yield name, build, shape


def _fresh_optimize_seconds(name: str, threads: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--optimize-only", name, "--threads", str(threads)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def _optimize_only(name: str) -> None:
    for _, build, shape in _models({name}):
        model = randomize_batchnorm(build()).eval()
        x = torch.randn(1, *shape)
        t0 = time.perf_counter()
        cnnfast.optimize(model, example_input=x)
        print(time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/cpu_corpus_speed")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--seconds", type=float, default=0.5, help="timing per model and batch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", nargs="*", default=[])
    ap.add_argument("--optimize-only", metavar="MODEL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    if args.optimize_only:
        return _optimize_only(args.optimize_only)
    # optimize() in a fresh process per model, before this process runs anything: its idle
    # OpenMP threads spin for a while after each op and were seen slowing a child 3x on 2 cores.
    names = [name for name, _, _ in _models(set(args.models))]
    fresh = {}
    for name in names:
        fresh[name] = _fresh_optimize_seconds(name, args.threads)
        print(f"{name:24s} optimize() in a fresh process: {fresh[name]:.2f} s", flush=True)
    rows = []
    for name, build, shape in _models(set(args.models)):
        model = randomize_batchnorm(build()).eval()
        t0 = time.perf_counter()
        fast = cnnfast.optimize(model, example_input=torch.randn(1, *shape))
        opt_in_process = time.perf_counter() - t0
        opt_s = fresh[name]
        report = cnnfast.report(fast)
        fused, total = report.coverage.get("Conv2d", (0, 0))
        kept_original = any("measured slower" in why for _, why in report.skipped)
        routes = sorted({r for _, r in report.captures}) or (["original (speed check)"] if kept_original else ["children"])
        for batch in args.batch:
            x = torch.randn(batch, *shape)
            with torch.inference_mode():
                t = alternating_medians({"eager": lambda: model(x), "cnnfast": lambda: fast(x)}, args.seconds)
            row = dict(model=name, batch=batch, eager_ms=t["eager"] * 1e3, cnnfast_ms=t["cnnfast"] * 1e3,
                       ratio=t["cnnfast"] / t["eager"], optimize_s=opt_s, optimize_in_process_s=opt_in_process,
                       conv_fused=fused, conv_total=total,
                       routes=routes)
            rows.append(row)
            print(f"{name:24s} b{batch}  eager {row['eager_ms']:8.2f} ms  cnnfast {row['cnnfast_ms']:8.2f} ms  "
                  f"x{row['ratio']:.2f}  optimize {opt_s:.2f} s  conv {fused}/{total}  {','.join(routes)}", flush=True)
    meta = dict(cpu=cpu_model(), threads=args.threads, torch=torch.__version__,
                date=time.strftime("%Y-%m-%d"), seconds=args.seconds)
    with open(args.out + ".json", "w") as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    worst = max(rows, key=lambda r: r["ratio"])
    lines = [f"# optimize() vs eager on the corpus ({meta['cpu']}, {args.threads} threads, fp32, {meta['date']})", "",
             "cnnfast time / eager time, alternated in one process; timm models at the smallest input their "
             "architecture takes (tests/corpus/timm_models.py), random weights.", "",
             f"Slowest ratio: {worst['ratio']:.2f} ({worst['model']}, batch {worst['batch']}). Conv2d fused: "
             f"{sum(r['conv_fused'] for r in rows if r['batch'] == args.batch[0])}/"
             f"{sum(r['conv_total'] for r in rows if r['batch'] == args.batch[0])}. Slowest optimize() "
             f"(fresh process, example batch 1): {max(r['optimize_s'] for r in rows):.2f} s.", "",
             "| model | batch | eager ms | cnnfast ms | ratio | optimize s | conv fused | route |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['batch']} | {r['eager_ms']:.2f} | {r['cnnfast_ms']:.2f} | {r['ratio']:.2f} | "
                     f"{r['optimize_s']:.2f} | {r['conv_fused']}/{r['conv_total']} | {','.join(r['routes'])} |")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
