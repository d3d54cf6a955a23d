"""Whole lecture models with and without cnnfast's conv engine: the same optimized model timed
under the routing rule and under the rule without the engine (cnnfast.config.force_conv_path
("no-engine"): oneDNN, MKL and the direct kernels, what cnnfast ran before the engine), calls
alternated in one process, random weights and BatchNorm statistics, fp32, channels_last.

    python benchmarks/conv_engine_models.py --batch 1 8 --out benchmarks/results/cpu_conv_engine_models
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
from cnnfast.models import registry  # noqa: E402
from cnnfast.testing import randomize_batchnorm  # noqa: E402
from benchmarks.cpu_timing import alternating_medians, cpu_model  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=[m for m in registry.MODELS if m != "lenet5_modern"])
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=2.0, help="per model and batch")
    p.add_argument("--out", default=None, help="path prefix for .json and .md")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    rows = []
    for name in a.models:
        spec = registry.get(name)
        torch.manual_seed(0)
        model = randomize_batchnorm(spec.build().eval())
        for batch in a.batch:
            x = spec.example_input(batch).contiguous(memory_format=torch.channels_last)
            t0 = time.perf_counter()
            fast = cnnfast.optimize(model, example_input=x)
            opt_s = time.perf_counter() - t0
            kernels = dict(cnnfast.report(fast).conv_kernels)

            def run(mode, fast=fast, x=x):
                with config.force_conv_path(mode):
                    return fast(x)

            with torch.inference_mode():
                with config.force_conv_path(config.ENGINE_OFF):
                    before = fast(x)
                after = fast(x)
                err = ((after - before).abs().max() / before.abs().max().clamp_min(1e-30)).item()
                t = alternating_medians({"no_engine": lambda: run(config.ENGINE_OFF), "engine": lambda: run("auto")},
                                        a.seconds, min_rounds=5)
            row = {"model": name, "batch": batch, "no_engine_ms": t["no_engine"] * 1e3, "engine_ms": t["engine"] * 1e3,
                   "ratio": t["engine"] / t["no_engine"], "optimize_s": opt_s, "kernels": kernels, "rel_diff": err}
            rows.append(row)
            print(f"{name:20s} b{batch}: without engine {row['no_engine_ms']:8.2f} ms, with {row['engine_ms']:8.2f} ms "
                  f"({row['ratio']:.2f}x), optimize {opt_s:.2f} s, kernels {kernels}, rel diff {err:.1e}", flush=True)
    info = {"cpu": cpu_model(), "threads": a.threads, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    if a.out:
        with open(a.out + ".json", "w") as f:
            json.dump({"machine": info, "rows": rows}, f, indent=1)
        with open(a.out + ".md", "w") as f:
            f.write(f"# Lecture models with and without the conv engine\n\n{info['cpu']}, {info['threads']} threads, "
                    f"torch {info['torch']}, {info['date']}; fp32, channels_last, `cnnfast.optimize` (eager form); "
                    "median ms per call, both forms alternated in one process "
                    "(`python benchmarks/conv_engine_models.py`).\n\n"
                    "| model | batch | without engine ms | with engine ms | with / without | convs on the engine | optimize() s |\n"
                    "|---|---|---|---|---|---|---|\n")
            for r in rows:
                n = sum(r["kernels"].values())
                f.write(f"| {r['model']} | {r['batch']} | {r['no_engine_ms']:.2f} | {r['engine_ms']:.2f} | {r['ratio']:.2f} | "
                        f"{r['kernels'].get('engine', 0)} of {n} | {r['optimize_s']:.2f} |\n")
    return rows


if __name__ == "__main__":
    main()
