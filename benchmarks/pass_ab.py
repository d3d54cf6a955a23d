"""One optimize() pass measured in whole models: the same model optimized with the pass and with it
skipped (skip_passes), both scripted, alternated in one process, batch by batch. Writes JSON and a
markdown table (and prints progress).

    python benchmarks/pass_ab.py reuse_residual_buffer --models resnet50 resnext50_32x4d \
        --batch 1 8 --out benchmarks/results/cpu_reuse_residual
"""

import argparse
import json
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cnnfast  # noqa: E402
from benchmarks.cpu_timing import alternating_medians, cpu_model, model_batch_args, rows_by_batch  # noqa: E402
from cnnfast import models  # noqa: E402
from cnnfast.passes.pipeline import PASS_NAMES  # noqa: E402
from cnnfast.testing import randomize_batchnorm, rel_err  # noqa: E402


def measure(pass_name, name, batch, seconds):
    spec = models.get(name)
    torch.manual_seed(0)
    eager = randomize_batchnorm(spec.build()).eval()
    x = spec.example_input(batch)
    with_pass = cnnfast.optimize(eager, example_input=x, speed_check=False, script=True)
    without = cnnfast.optimize(eager, example_input=x, speed_check=False, script=True, skip_passes=(pass_name,))
    with torch.inference_mode():
        ref = eager(x)
        err = max(rel_err(with_pass(x), ref), rel_err(without(x), ref))
        t = alternating_medians({"with": lambda: with_pass(x), "without": lambda: without(x)}, seconds, min_rounds=10)
    sites = sum(cnnfast.report(with_pass).fused.values()) - sum(cnnfast.report(without).fused.values())
    return dict(model=name, batch=batch, with_ms=t["with"] * 1e3, without_ms=t["without"] * 1e3,
                ratio=t["with"] / t["without"], rel_err=err, sites=sites)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pass_name", choices=PASS_NAMES)
    model_batch_args(ap, seconds=15.0)
    args = ap.parse_args()
    rows = rows_by_batch(args, lambda name, batch: measure(args.pass_name, name, batch, args.seconds),
                         lambda r: f"without {r['without_ms']:8.2f} ms  with {r['with_ms']:8.2f} ms  "
                                   f"ratio {r['ratio']:.3f}  ({r['sites']} sites, rel err {r['rel_err']:.1e})")
    meta = dict(cpu=cpu_model(), threads=args.threads, torch=torch.__version__, python=platform.python_version(),
                date=time.strftime("%Y-%m-%d"), pass_name=args.pass_name, seconds=args.seconds)
    if args.out:
        with open(args.out + ".json", "w") as f:
            json.dump(dict(meta=meta, rows=rows), f, indent=1)
        with open(args.out + ".md", "w") as f:
            f.write(f"# `{args.pass_name}` in whole models\n\n{meta['cpu']}, {args.threads} threads, torch "
                    f"{meta['torch']}, {meta['date']}; each model optimized with the pass and with it skipped, "
                    "both scripted, alternated in one process (median ms per call).\n\n"
                    "| model | batch | sites | without ms | with ms | with / without |\n|---|---:|---:|---:|---:|---:|\n")
            for r in rows:
                f.write(f"| {r['model']} | {r['batch']} | {r['sites']} | {r['without_ms']:.2f} | {r['with_ms']:.2f} | "
                        f"{r['ratio']:.3f} |\n")


if __name__ == "__main__":
    main()
