"""What cnnfast.replay buys: the same optimized model run by its Python forward
(optimize(replay=False)), by a replay of its recorded ops (optimize(), the default) and as
TorchScript (optimize(script=True)), alternated call by call in one process. Writes JSON and a
markdown table (and prints progress).

    python benchmarks/replay_vs_python.py --batch 1 8 --out benchmarks/results/cpu_replay
"""

import argparse
import json
import os
import platform
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cnnfast  # noqa: E402
from benchmarks.cpu_timing import alternating_medians, cpu_model, model_batch_args, rows_by_batch  # noqa: E402
from cnnfast import models  # noqa: E402
from cnnfast.replay import Replay  # noqa: E402
from cnnfast.testing import randomize_batchnorm, rel_err  # noqa: E402


def measure(name, batch, seconds):
    spec = models.get(name)
    torch.manual_seed(0)
    eager = randomize_batchnorm(spec.build()).eval()
    x = spec.example_input(batch)
    python = cnnfast.optimize(eager, example_input=x, speed_check=False, replay=False)
    replay = cnnfast.optimize(eager, example_input=x, speed_check=False)
    script = cnnfast.optimize(eager, example_input=x, speed_check=False, script=True)
    with torch.inference_mode():
        ref = python(x)
        for _ in range(2):
            replay(x)  # the two recordings
        same = torch.equal(replay(x), ref)
        err = rel_err(replay(x), eager(x))
        t = alternating_medians({"python": lambda: python(x), "replay": lambda: replay(x),
                                 "script": lambda: script(x)}, seconds, min_rounds=10)
    ops = [w for _, w in replay.replays()] if isinstance(replay, Replay) else ["not wrapped (one op)"]
    return dict(model=name, batch=batch, python_ms=t["python"] * 1e3, replay_ms=t["replay"] * 1e3,
                script_ms=t["script"] * 1e3, replay_over_python=t["replay"] / t["python"],
                replay_over_script=t["replay"] / t["script"], same_as_python=same, rel_err=err,
                replays=ops)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    model_batch_args(ap, seconds=4.0, models_default=list(models.MODELS))
    args = ap.parse_args()
    rows = rows_by_batch(args, lambda name, batch: measure(name, batch, args.seconds),
                         lambda r: f"python {r['python_ms']:8.3f} ms  replay {r['replay_ms']:8.3f}  "
                                   f"script {r['script_ms']:8.3f}  replay/python {r['replay_over_python']:.3f}  "
                                   f"replay/script {r['replay_over_script']:.3f}  {r['replays'][0]}")
    meta = dict(cpu=cpu_model(), threads=args.threads, torch=torch.__version__, python=platform.python_version(),
                seconds=args.seconds)
    if args.out:
        with open(args.out + ".json", "w") as f:
            json.dump(dict(meta=meta, rows=rows), f, indent=1)
        with open(args.out + ".md", "w") as f:
            f.write(f"# Replay against the Python forward and TorchScript ({meta['cpu']}, {args.threads} threads)\n\n")
            f.write("`python benchmarks/replay_vs_python.py " + " ".join(sys.argv[1:]) + "`: ms per call, the three "
                    "alternated call by call in one process; medians. The replay's output is compared with the "
                    "Python forward's bit for bit (`same`).\n\n")
            f.write("| model | batch | Python forward | replay | TorchScript | replay / Python | replay / TorchScript "
                    "| same | recorded |\n|---|---:|---:|---:|---:|---:|---:|---|---|\n")
            for r in rows:
                f.write(f"| {r['model']} | {r['batch']} | {r['python_ms']:.3f} | {r['replay_ms']:.3f} | "
                        f"{r['script_ms']:.3f} | {r['replay_over_python']:.3f} | {r['replay_over_script']:.3f} | "
                        f"{'yes' if r['same_as_python'] else 'NO'} | {r['replays'][0]} |\n")


if __name__ == "__main__":
    main()
