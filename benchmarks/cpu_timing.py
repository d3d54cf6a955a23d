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
