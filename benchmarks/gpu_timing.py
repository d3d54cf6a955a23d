"""CUDA-event timing shared by the GPU benchmarks (imports nothing of cnnfast, so
gpu_compile_peer.py can run before cnnfast is built)."""

import statistics

import torch


def median_ms(fn, x, iters=50):
    """Median ms of one call fn(x), host launch time included (what a caller waits for), after
    three warm-up calls."""
    for _ in range(3):
        fn(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(x)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)
