"""Runtime safety of conv2d_bias_act and the models using it: concurrent calls, the prepacked
weight cache's lifetime, memory over many calls, and bitwise determinism."""

import gc
import os
import threading

import pytest
import torch
import torch.nn as nn
import torchvision

import cnnfast
from cnnfast import _C
from cnnfast.testing import randomize_batchnorm


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _small_net():
    return randomize_batchnorm(nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.BatchNorm2d(16), nn.ReLU6(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))).eval()


def test_four_threads_at_once_match_serial_calls():
    fast = cnnfast.optimize(randomize_batchnorm(torchvision.models.resnet18()).eval())
    inputs = [torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    results, errors = [[] for _ in inputs], []
    start = threading.Barrier(len(inputs))  # first calls race on the empty weight cache too

    def worker(i):
        try:
            start.wait()
            with torch.inference_mode():
                for _ in range(10):
                    results[i].append(fast(inputs[i]))
        except Exception as e:  # surfaced in the main thread below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with torch.inference_mode():
        serial = [fast(x) for x in inputs]
    for i, outs in enumerate(results):
        for out in outs:
            torch.testing.assert_close(out, serial[i], rtol=1e-6, atol=1e-6 * serial[i].abs().max().item())


def test_repeated_calls_are_bitwise_deterministic():
    fast = cnnfast.optimize(_small_net())
    x = torch.randn(3, 3, 20, 20)
    with torch.inference_mode():
        first = fast(x)
        for _ in range(5):
            assert torch.equal(fast(x), first)


def test_ten_thousand_calls_do_not_grow_memory():
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("under AddressSanitizer (tools/sanitize.sh) freed memory sits in ASan's quarantine")
    fast = cnnfast.optimize(_small_net())
    x = torch.randn(1, 3, 16, 16)
    with torch.inference_mode():
        for _ in range(1000):
            fast(x)
        gc.collect()
        before = _rss_bytes()
        for _ in range(10_000):
            fast(x)
        gc.collect()
        after = _rss_bytes()
    assert after - before < 16 * 2**20, f"RSS grew by {(after - before) / 2**20:.1f} MiB"


def test_prepacked_weights_die_with_their_model():
    gc.collect()
    baseline = _C._prepacked_weight_count()
    x = torch.randn(1, 3, 16, 16)
    for _ in range(20):
        fast = cnnfast.optimize(_small_net())
        with torch.inference_mode():
            fast(x)
        assert _C._prepacked_weight_count() >= baseline + 2
        del fast
    gc.collect()
    assert _C._prepacked_weight_count() == baseline


def test_cache_is_bounded_per_weight_across_input_shapes():
    fast = cnnfast.optimize(_small_net())
    gc.collect()
    baseline = _C._prepacked_weight_count()
    with torch.inference_mode():
        for size in range(8, 30):  # 22 input shapes
            fast(torch.randn(1, 3, size, size))
    # Two convs, at most 4 packed shapes each.
    assert _C._prepacked_weight_count() - baseline <= 8
