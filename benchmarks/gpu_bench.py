"""GPU benchmark for the GPU issue: eager, channels_last + AMP eager, torch.compile (max-autotune
and reduce-overhead), cnnfast with and without CUDA graphs, on ResNet-50, GoogLeNet,
DenseNet-121 and SE-ResNet-50 at batch 1 and 32, fp32 and fp16; CUDA-event medians; JSON out.

    python benchmarks/gpu_bench.py --out results.json [--budget-s 360] [--iters 50]

Stays inside a time budget (the device lease is short): cases run in priority order (the issue's
target, ResNet-50 fp16 channels_last batch 1, first) and whatever does not fit is recorded as
skipped. torch.compile runs only where the budget allows its compile time (recorded)."""

import argparse
import copy
import json
import statistics
import sys
import time

import torch

import cnnfast
from cnnfast import models
from cnnfast.testing import randomize_batchnorm, rel_err

MODELS = ["resnet50", "googlenet", "densenet121", "se_resnet50"]


def _time(fn, x, iters):
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


def _cases():
    # The target first, then the rest of fp16, then fp32.
    order = [("resnet50", 1, "float16")]
    for dtype in ("float16", "float32"):
        for name in MODELS:
            for batch in (1, 32):
                if (name, batch, dtype) not in order:
                    order.append((name, batch, dtype))
    return order


def run_case(name, batch, dtype_name, iters, deadline, log):
    dtype = getattr(torch, dtype_name)
    spec = models.get(name)
    torch.manual_seed(0)
    base = randomize_batchnorm(spec.build()).eval().cuda()  # fp32, NCHW: stock PyTorch
    x32 = spec.example_input(batch).cuda()
    x = x32.to(dtype).contiguous(memory_format=torch.channels_last)
    # nn.Module.to works in place: every method gets its own copy.
    model = copy.deepcopy(base).to(dtype=dtype, memory_format=torch.channels_last)
    row = {"model": name, "batch": batch, "dtype": dtype_name, "ms": {}, "compile_s": {}, "skipped": {}}
    with torch.inference_mode():
        ref = base(x32).float()
        eager = copy.deepcopy(base).to(dtype)
        row["ms"]["eager"] = _time(eager, x32.to(dtype), iters)
        amp_model = copy.deepcopy(base).to(memory_format=torch.channels_last)

        def amp(t):
            with torch.autocast("cuda", dtype=torch.float16):
                return amp_model(t)
        row["ms"]["eager_cl_amp"] = _time(amp, x32.contiguous(memory_format=torch.channels_last), iters)
        fast = cnnfast.optimize(model)
        row["ms"]["cnnfast"] = _time(fast, x, iters)
        row["max_rel_err_vs_fp32_eager"] = rel_err(fast(x).float(), ref)
        graphs = cnnfast.optimize(model, cuda_graphs=True)
        row["ms"]["cnnfast_cuda_graphs"] = _time(graphs, x, iters)
        for mode in ("max-autotune", "reduce-overhead"):
            # A compile can take minutes: only while well inside the budget.
            if time.time() > deadline - 120:
                row["skipped"][f"compile_{mode}"] = "time budget"
                continue
            torch._dynamo.reset()
            start = time.time()
            compiled = torch.compile(model, mode=mode)
            compiled(x)
            row["compile_s"][mode] = time.time() - start
            row["ms"][f"compile_{mode}"] = _time(compiled, x, iters)
    peers = {k: v for k, v in row["ms"].items() if not k.startswith("cnnfast")}
    best = min(peers, key=peers.get)
    row["cnnfast_vs_eager"] = row["ms"]["cnnfast_cuda_graphs"] / row["ms"]["eager"]
    row["best_peer"], row["cnnfast_vs_best_peer"] = best, row["ms"]["cnnfast_cuda_graphs"] / peers[best]
    log(f"{name} b{batch} {dtype_name}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in row["ms"].items()))
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--budget-s", type=float, default=360.0)
    p.add_argument("--iters", type=int, default=50)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("gpu_bench: no CUDA device visible")
    start = time.time()
    deadline = start + args.budget_s
    log = lambda msg: print(f"[{time.time() - start:5.0f} s] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "cuda": torch.version.cuda, "cnnfast_build": {k: v for k, v in cnnfast.build_info().items()
                                                           if k != "extension_path"},
              "rows": [], "skipped": []}
    for case in _cases():
        if time.time() > deadline - 20:
            result["skipped"].append({"case": case, "reason": "time budget"})
            continue
        try:
            result["rows"].append(run_case(*case, args.iters, deadline, log))
        except Exception as e:  # keep going: one failing case must not lose the others' numbers
            result["skipped"].append({"case": case, "reason": f"{type(e).__name__}: {e}"[:300]})
            log(f"{case} failed: {e}")
        with open(args.out, "w") as f:  # after every case: a cut-off run still leaves its data
            json.dump(result, f, indent=1)
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
