"""optimize()'s last check: on example_input, is the optimized model at least as fast as the
original? A small network can lose: on 16x16 maps a dense block's in-place concatenation costs
more Python calls than eager's copies (0.41 vs 0.35 ms measured), and a slower result must not be
returned as the faster copy.

Only networks whose eager call is short are timed (below ~20 ms a call: where per-call overhead
can outweigh the fused kernels; above it, every corpus model gains), alternating the two for
about 0.2 s, so the check stays a small part of optimize()'s time."""

import statistics
import time

import torch
import torch.nn as nn

# Above this eager time per call the check is skipped: fused kernels dominate.
TIMED_BELOW_S = 0.020
BUDGET_S = 0.2
# The optimized model is kept unless its median is this much slower (timer noise on a busy core).
SLOWER = 1.05


def _once(model, args) -> float:
    t0 = time.perf_counter()
    model(*args)
    return time.perf_counter() - t0


def slower_than_original(original: nn.Module, optimized: nn.Module, args):
    """(original median s, optimized median s) when the optimized model is measurably slower on
    args, else None."""
    with torch.inference_mode():
        first = _once(original, args)
        if first > TIMED_BELOW_S:
            return None
        _once(optimized, args)
        a, b, start = [], [], time.perf_counter()
        while time.perf_counter() - start < BUDGET_S or len(a) < 5:
            a.append(_once(original, args))
            b.append(_once(optimized, args))
            if len(a) >= 200:
                break
    ta, tb = statistics.median(a), statistics.median(b)
    return (ta, tb) if tb > SLOWER * ta else None
