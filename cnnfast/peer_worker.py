"""One method of `cnnfast bench --peers`, set up and timed alone in a fresh process: a runtime's
thread pool (ONNX Runtime's spinning workers, OpenVINO's) sharing a process with torch's OpenMP
threads on 2 cores was measured slowing the others by up to 2.5x on small models. Prints one
JSON line: {"samples": [seconds...], "setup_s": float} or {"error": "..."}.

    python -m cnnfast.peer_worker --model resnet50 --batch 1 --method openvino --onnx m.onnx --threads 2
"""

import argparse
import sys
import time

import torch

from cnnfast import worker_io

METHODS = ("eager", "cnnfast", "cnnfast_script", "onnxruntime", "openvino")


def _method(name, model_name, batch, onnx_path, threads):
    import cnnfast
    from cnnfast import models, peers
    from cnnfast.testing import randomize_batchnorm

    spec = models.get(model_name)
    x = spec.example_input(batch)
    if name in ("onnxruntime", "openvino"):
        with open(onnx_path, "rb") as f:
            onnx = f.read()
        make = peers._onnxruntime if name == "onnxruntime" else peers._openvino
        return make(onnx, x, threads), x
    torch.manual_seed(0)
    eager = randomize_batchnorm(spec.build()).eval()  # the parent builds the same weights
    if name == "eager":
        return eager, x
    fast = cnnfast.optimize(eager, script=name == "cnnfast_script", example_input=x)
    return fast, x


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="time one method of cnnfast bench --peers in this process")
    worker_io.add_worker_arguments(p, METHODS)
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--min-samples", type=int, default=5)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    worker_io.enter_as_avx2(a)
    return worker_io.report(lambda: _time(a), limit=160)


def _time(a) -> dict:
    start = time.perf_counter()
    fn, x = _method(a.method, a.model, a.batch, a.onnx, a.threads)
    setup_s = time.perf_counter() - start
    samples = []
    with torch.inference_mode():
        for _ in range(3):  # warm-up: prepacking, JIT kernels, thread pools, allocator
            fn(x)
        traps = worker_io.cpuid_traps()
        t0 = time.perf_counter()
        while len(samples) < a.min_samples or time.perf_counter() - t0 < a.min_seconds:
            t = time.perf_counter()
            fn(x)
            samples.append(time.perf_counter() - t)
    # Under --as-avx2 each CPUID traps (~1 us); none may fall inside the timed loop.
    return {"samples": samples, "setup_s": setup_s, "cpuid_traps_timed": worker_io.cpuid_traps() - traps}


if __name__ == "__main__":
    sys.exit(main())
