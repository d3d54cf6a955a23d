"""Benchmark settings shared by every suite: thread count, adaptive rounds, machine info."""

import os
import time

import pytest
import torch

import cnnfast
from benchmarks.cpu_timing import cpu_model

THREADS = int(os.environ.get("CNNFAST_BENCH_THREADS", "2"))
TARGET_SECONDS = float(os.environ.get("CNNFAST_BENCH_SECONDS", "1.0"))  # per benchmark


def pytest_configure(config):
    # optimize() installs cnnfast's block cache process-wide (cnnfast.memory); install it before
    # any benchmark runs, so eager PyTorch and the peers are timed under the same allocator
    # whatever the order of the tests.
    from cnnfast.memory import install_block_cache

    install_block_cache()


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["cpu_model"] = cpu_model()
    machine_info["torch_threads"] = THREADS
    machine_info["torch"] = torch.__version__
    machine_info["block_cache"] = cnnfast.memory.block_cache_stats().installed
    machine_info["cnnfast"] = cnnfast.__version__
    machine_info["cnnfast_build"] = {k: v for k, v in cnnfast.build_info().items() if k != "extension_path"}


@pytest.fixture(autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def run(benchmark):
    """Time fn() under inference_mode: one untimed warm-up call (prepacks weights, warms
    allocator caches), then as many rounds as fit in TARGET_SECONDS (5..200)."""

    def _run(fn):
        with torch.inference_mode():
            fn()
            start = time.perf_counter()
            fn()
            once = time.perf_counter() - start
            rounds = int(min(200, max(5, TARGET_SECONDS / max(once, 1e-6))))
            return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)

    return _run
