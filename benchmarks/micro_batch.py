"""optimize()'s micro-batch step (cnnfast/passes/micro_batch.py), measured two ways in one
process: each model optimized with and without it, the two alternated call by call; and each
region it made, run whole and in chunks of 1, 2, 4 and the rule's size, on the map it receives in
the model. Writes JSON and a markdown table (and prints progress).

    python benchmarks/micro_batch.py --batch 8 --out benchmarks/results/cpu_micro_batch
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cnnfast  # noqa: E402
from cnnfast import models  # noqa: E402
from cnnfast.nn.micro_batch import MicroBatch  # noqa: E402
from cnnfast.passes import micro_batch as micro_batch_pass  # noqa: E402
from cnnfast.testing import randomize_batchnorm  # noqa: E402
from benchmarks.cpu_timing import alternating_medians, cpu_model  # noqa: E402

MODELS = ["alexnet", "vgg16_bn", "googlenet", "inception_v3", "resnet18", "resnet50", "resnext50_32x4d",
          "densenet121", "se_resnet50", "shufflenet_v2_x1_0", "mobilenet_v3_large", "efficientnet_b0",
          "regnet_y_400mf"]


def _regions(model):
    """(name, MicroBatch) for each region, and the map each one reads on the example."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, MicroBatch)]


def _region_inputs(model, x):
    seen = {}
    hooks = [m.register_forward_pre_hook(lambda mod, a, name=n: seen.__setitem__(name, a[0]))
             for n, m in _regions(model)]
    with torch.inference_mode():
        model(x)
    for h in hooks:
        h.remove()
    return seen


def measure(name: str, batch: int, seconds: float, region_seconds: float) -> dict:
    spec = models.get(name)
    torch.manual_seed(0)
    eager = randomize_batchnorm(spec.build()).eval()
    x = spec.example_input(batch).contiguous(memory_format=torch.channels_last)
    whole = cnnfast.optimize(eager, example_input=x, speed_check=False, skip_passes=["micro_batch"])
    split = cnnfast.optimize(eager, example_input=x, speed_check=False)
    notes = {n.split(":")[0]: n.split(": ", 1)[1] for n in cnnfast.report(split).notes if n.startswith("micro_batch")}
    with torch.inference_mode():
        t = alternating_medians({"whole": lambda: whole(x), "split": lambda: split(x)}, seconds, min_rounds=10)
    row = {"model": name, "batch": batch, "whole_ms": t["whole"] * 1e3, "split_ms": t["split"] * 1e3,
           "ratio": t["split"] / t["whole"], "regions": []}
    inputs = _region_inputs(split, x)
    for rname, region in _regions(split):
        xi = inputs[rname]
        example = (region.in_shape, region.in_channels_last, region.out_shape, region.out_channels_last)
        fns = {"whole": lambda r=region, xi=xi: r.region(xi)}
        for c in sorted({1, 2, 4, region.chunk}):
            if c < batch:
                m = MicroBatch(region.region, c, region.writes_out, example)
                fns[f"chunk {c}"] = lambda m=m, xi=xi: m(xi)
        with torch.inference_mode():
            rt = alternating_medians(fns, region_seconds, min_rounds=10)
        row["regions"].append({"name": rname, "what": notes.get(rname, ""), "chunk": region.chunk,
                               "whole_ms": rt["whole"] * 1e3,
                               "ratios": {k: v / rt["whole"] for k, v in rt.items() if k != "whole"}})
    return row


def markdown(rows, cpu: str, threads: int, l3: int) -> str:
    lines = [f"# Micro-batches: {cpu}, {threads} threads", "",
             "Each model optimized with and without the micro-batch step, alternated in one process "
             f"(`benchmarks/micro_batch.py`), the rule reading an L3 of {l3 / 2**20:.0f} MB; "
             "time with it / time without.", "",
             "| model | batch | without (ms) | with (ms) | ratio | regions (chunk) |", "|---|---|---|---|---|---|"]
    for r in rows:
        chunks = ", ".join(str(g["chunk"]) for g in r["regions"]) or "none"
        lines.append(f"| {r['model']} | {r['batch']} | {r['whole_ms']:.2f} | {r['split_ms']:.2f} | "
                     f"{r['ratio']:.3f} | {chunks} |")
    lines += ["", "Each region alone, on the map it reads in the model: time in chunks / time whole.", "",
              "| model | region | whole (ms) | chunk 1 | chunk 2 | chunk 4 | rule's chunk |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        for g in r["regions"]:
            c = g["ratios"]
            cell = lambda k: f"{c[k]:.3f}" if k in c else "-"  # noqa: E731
            lines.append(f"| {r['model']} | {g['what']} | {g['whole_ms']:.2f} | {cell('chunk 1')} | "
                         f"{cell('chunk 2')} | {cell('chunk 4')} | {g['chunk']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batch", type=int, nargs="+", default=[8])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=4.0, help="per model, both forms alternated")
    p.add_argument("--region-seconds", type=float, default=1.0)
    p.add_argument("--l3-mb", type=float, default=None,
                   help="the last-level cache size the rule reads, instead of the CPU's own figure "
                        "(a VM's slice of a large shared L3 can be far smaller than CPUID says)")
    p.add_argument("--out", required=True, help="path prefix for .json and .md")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.l3_mb is not None:
        micro_batch_pass.last_level_cache = lambda: int(a.l3_mb * 2**20)
    rows, start = [], time.perf_counter()
    for batch in a.batch:
        for name in a.models.split(","):
            print(f"{name} batch {batch} ({time.perf_counter() - start:.0f} s elapsed)", file=sys.stderr, flush=True)
            rows.append(measure(name, batch, a.seconds, a.region_seconds))
            print(f"  {rows[-1]['ratio']:.3f} with {len(rows[-1]['regions'])} region(s)", file=sys.stderr, flush=True)
    cpu = cpu_model()
    l3 = micro_batch_pass.last_level_cache()
    with open(a.out + ".json", "w") as f:
        json.dump({"cpu": cpu, "threads": a.threads, "torch": torch.__version__, "l3_bytes": l3, "rows": rows},
                  f, indent=1)
    with open(a.out + ".md", "w") as f:
        f.write(markdown(rows, cpu, a.threads, l3))
    print(f"wrote {a.out}.json and {a.out}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
