"""Side-by-side CPU timing for the benchmark scripts: methods alternated call by call in one
process (so drift hits them alike), medians; and the CPU's model name for the results."""

import platform
import statistics
import time


def alternating_medians(fns, seconds, min_rounds=3, max_rounds=500):
    """Median seconds per call of each fn in the dict, after one untimed call each, alternating
    them until at least `min_rounds` rounds and `seconds` have passed (or `max_rounds`)."""
    samples = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    start = time.perf_counter()
    while True:
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - t0)
        n = len(samples[next(iter(fns))])
        if n >= min_rounds and (time.perf_counter() - start > seconds or n >= max_rounds):
            return {k: statistics.median(v) for k, v in samples.items()}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def model_batch_args(ap, seconds: float, models_default=None) -> None:
    """The options the whole-model comparison scripts share: --models, --batch, --threads,
    --seconds (timing per model and batch), --out (OUT.json and OUT.md)."""
    if models_default is None:
        ap.add_argument("--models", nargs="+", required=True)
    else:
        ap.add_argument("--models", nargs="+", default=models_default)
    ap.add_argument("--batch", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=seconds, help="timing per model and batch")
    ap.add_argument("--out", help="write OUT.json and OUT.md")


def rows_by_batch(args, measure, line):
    """measure(name, batch) for every batch, then every model (in --threads threads); prints
    line(row) for each as it comes."""
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    for batch in args.batch:
        for name in args.models:
            rows.append(measure(name, batch))
            print(f"{name:20s} b{batch}: {line(rows[-1])}", flush=True)
    return rows
