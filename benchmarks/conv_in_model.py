"""Each fused conv of an optimized model timed in the model and alone: how much of a layer's time
is its data arriving cold (the weight from memory, the input from the other core, the output
block's lines read before they are written). Forward hooks time every Conv2dBiasAct call during
whole passes; then each conv is called on its own with the input it last saw, again and again.
Prints the largest rows and writes JSON.

    python benchmarks/conv_in_model.py --model regnet_y_400mf --batch 1 --out /tmp/in_model.json
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cnnfast  # noqa: E402
from cnnfast import models  # noqa: E402
from cnnfast.nn import Conv2dBiasAct  # noqa: E402
from cnnfast.testing import randomize_batchnorm  # noqa: E402
from benchmarks.cpu_timing import alternating_medians  # noqa: E402


def measure(name: str, batch: int, passes: int, calls: int, threads: int) -> list:
    torch.set_num_threads(threads)
    spec = models.get(name)
    torch.manual_seed(0)
    eager = randomize_batchnorm(spec.build()).eval()
    x = spec.example_input(batch).contiguous(memory_format=torch.channels_last)
    fast = cnnfast.optimize(eager, example_input=x, speed_check=False)
    convs = {n: m for n, m in fast.named_modules() if isinstance(m, Conv2dBiasAct)}
    times = {n: [] for n in convs}
    last_args, started = {}, {}

    def hooks(n):
        def pre(module, args, kwargs):
            started[n] = time.perf_counter()

        def post(module, args, kwargs, out):
            times[n].append(time.perf_counter() - started[n])
            last_args[n] = (args, kwargs)

        return pre, post

    handles = []
    for n, m in convs.items():
        pre, post = hooks(n)
        handles.append(m.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(m.register_forward_hook(post, with_kwargs=True))
    rows = []
    with torch.inference_mode():
        for _ in range(max(5, passes // 5)):
            fast(x)
        for v in times.values():
            v.clear()
        for i in range(passes):
            fast(x)
        for h in handles:
            h.remove()
        for k, (n, m) in enumerate(convs.items()):
            if n not in last_args:
                continue  # not called (a branch the input did not take)
            args, kwargs = last_args[n]
            alone = alternating_medians({n: lambda: m(*args, **kwargs)}, 0.0, min_rounds=calls, max_rounds=calls)[n]
            in_model, by_itself = statistics.median(times[n]) * 1e6, alone * 1e6
            rows.append({"conv": n, "weight": list(m.weight.shape), "input": list(args[0].shape),
                         "in_model_us": in_model, "alone_us": by_itself})
            print(f"\r{k + 1}/{len(convs)} convs timed alone", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=list(models.MODELS))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--passes", type=int, default=50, help="whole passes timed with the hooks")
    p.add_argument("--calls", type=int, default=30, help="calls of each conv alone")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--top", type=int, default=25, help="rows printed, largest in-model time first")
    p.add_argument("--out", help="JSON file for every row")
    a = p.parse_args()
    rows = measure(a.model, a.batch, a.passes, a.calls, a.threads)
    total_in, total_alone = sum(r["in_model_us"] for r in rows), sum(r["alone_us"] for r in rows)
    print(f"{a.model} batch {a.batch}, {a.threads} threads: convs {total_in:.0f} us in the model, "
          f"{total_alone:.0f} us alone ({total_in / total_alone:.2f}x)")
    print(f"{'in model us':>12} {'alone us':>9} {'ratio':>6}  conv  weight  input")
    for r in sorted(rows, key=lambda r: -r["in_model_us"])[:a.top]:
        print(f"{r['in_model_us']:12.1f} {r['alone_us']:9.1f} {r['in_model_us'] / r['alone_us']:6.2f}  "
              f"{r['conv']}  {tuple(r['weight'])}  {tuple(r['input'])}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"model": a.model, "batch": a.batch, "threads": a.threads, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
