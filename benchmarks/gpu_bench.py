"""GPU benchmark for the GPU issue: eager (NCHW and channels_last), channels_last + AMP eager,
torch.compile (max-autotune and reduce-overhead), cnnfast with and without CUDA graphs, on
ResNet-50, GoogLeNet, DenseNet-121 and SE-ResNet-50 at batch 1 and 32, fp32 and fp16; medians of
CUDA-event timings; JSON out.

    python benchmarks/gpu_bench.py --out results.json [--budget-s 360] [--iters 50]

The device lease is short, so the run works in two phases inside a time budget: first every case
with the methods that need no compile (seconds each), the issue's target case (ResNet-50 fp16
channels_last batch 1) first; then torch.compile fills in, target first, as long as the budget
lets a compile start with time to spare. Whatever does not fit is recorded as skipped, never
guessed. The JSON is rewritten after every step, so a cut-off run keeps what it measured."""

import argparse
import contextlib
import copy
import json
import sys
import time

import torch

import cnnfast
from cnnfast import models
from cnnfast.testing import randomize_batchnorm, rel_err
from gpu_timing import median_ms as _time  # benchmarks/, the script's own folder

MODELS = ["resnet50", "googlenet", "densenet121", "se_resnet50"]
TARGET = ("resnet50", 1, "float16")
COMPILE_MODES = ("max-autotune", "reduce-overhead")


def _kernels(fn, x):
    """(kernel launches, summed GPU kernel ms) of one call: the device-side work without host
    overhead, which is what a CUDA-graph replay is left with."""
    from torch.profiler import ProfilerActivity, profile

    fn(x)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn(x)
        torch.cuda.synchronize()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    return len(kernels), sum(e.time_range.elapsed_us() for e in kernels) / 1e3


def _cases():
    order = [TARGET]
    for dtype in ("float16", "float32"):
        for name in MODELS:
            for batch in (1, 32):
                if (name, batch, dtype) not in order:
                    order.append((name, batch, dtype))
    return order


class Case:
    """One (model, batch, dtype): the stock fp32 model, the channels_last model in `dtype` that
    every method starts from, the input, and the JSON row."""

    def __init__(self, name, batch, dtype_name):
        self.dtype = getattr(torch, dtype_name)
        spec = models.get(name)
        torch.manual_seed(0)
        self.base = randomize_batchnorm(spec.build()).eval().cuda()  # fp32 NCHW: stock PyTorch
        self.x32 = spec.example_input(batch).cuda()
        self.x = self.x32.to(self.dtype).contiguous(memory_format=torch.channels_last)
        # nn.Module.to works in place: every method gets its own copy.
        self.model = copy.deepcopy(self.base).to(dtype=self.dtype, memory_format=torch.channels_last)
        self.row = {"model": name, "batch": batch, "dtype": dtype_name, "ms": {}, "compile_s": {},
                    "skipped": {}}

    def run_uncompiled(self, iters, profile_kernels):
        row, x = self.row, self.x
        with torch.inference_mode():
            ref = self.base(self.x32).float()
            eager = copy.deepcopy(self.base).to(self.dtype)
            row["ms"]["eager"] = _time(eager, self.x32.to(self.dtype), iters)
            row["ms"]["eager_cl"] = _time(self.model, x, iters)
            amp_model = copy.deepcopy(self.base).to(memory_format=torch.channels_last)

            def amp(t):
                with torch.autocast("cuda", dtype=torch.float16):
                    return amp_model(t)
            row["ms"]["eager_cl_amp"] = _time(amp, self.x32.contiguous(memory_format=torch.channels_last), iters)
            # "cnnfast" and "cnnfast_cuda_graphs": gpu_backend "cuda" (the C++/CUDA kernels:
            # cuDNN conv + cnnfast's epilogue kernel), whatever the default is.
            with cnnfast.config.gpu_backend("cuda"):
                start = time.time()
                fast = cnnfast.optimize(self.model)
                row["optimize_s"] = time.time() - start
                row["ms"]["cnnfast"] = _time(fast, x, iters)
                row["max_rel_err_vs_fp32_eager"] = rel_err(fast(x).float(), ref)
                row["eager_cl_rel_err_vs_fp32_eager"] = rel_err(self.model(x).float(), ref)
                graphs = cnnfast.optimize(self.model, cuda_graphs=True)
                row["ms"]["cnnfast_cuda_graphs"] = _time(graphs, x, iters)
            # The other GPU backends (cnnfast.config.gpu_backend), each captured in its own graphs:
            # cuDNN's fused conv+bias(+add)+ReLU graphs everywhere; Triton (a compile per conv
            # shape, so the target case only).
            for backend in ("cudnn", "triton") if profile_kernels else ("cudnn",):
                try:
                    with cnnfast.config.gpu_backend(backend):
                        start = time.time()
                        g = cnnfast.optimize(self.model, cuda_graphs=True)
                        row[f"max_rel_err_{backend}"] = rel_err(g(x).float(), ref)
                        row[f"first_call_s_{backend}"] = time.time() - start
                        row["ms"][f"cnnfast_{backend}_cuda_graphs"] = _time(g, x, iters)
                except Exception as e:  # one backend's failure must not cost the case
                    row["skipped"][f"cnnfast_{backend}"] = f"{type(e).__name__}: {e}"[:300]
            if profile_kernels:
                row["kernels"] = {}
                for label, fn in (("eager_cl", self.model), ("cnnfast", fast)):
                    try:
                        with cnnfast.config.gpu_backend("cuda"):
                            n, ms = _kernels(fn, x)
                        row["kernels"][label] = {"launches": n, "gpu_ms": ms}
                    except Exception as e:  # a profiler quirk must not cost the case
                        row["kernels"][label] = f"{type(e).__name__}: {e}"[:200]
        self._summarise()

    def run_compile(self, mode, iters):
        torch._dynamo.reset()
        with torch.inference_mode():
            start = time.time()
            compiled = torch.compile(self.model, mode=mode)
            compiled(self.x)
            self.row["compile_s"][mode] = time.time() - start
            self.row["ms"][f"compile_{mode}"] = _time(compiled, self.x, iters)
        self._summarise()

    def _summarise(self):
        # Ratios for the default backend (cnnfast_cuda_graphs) and for cnnfast's best backend.
        ms = self.row["ms"]
        peers = {k: v for k, v in ms.items() if not k.startswith("cnnfast")}
        ours = {k: v for k, v in ms.items() if k.startswith("cnnfast")}
        best = min(peers, key=peers.get)
        fast = ms["cnnfast_cuda_graphs"]
        self.row["cnnfast_vs_eager"] = fast / ms["eager"]
        self.row["cnnfast_vs_eager_cl"] = fast / ms["eager_cl"]
        self.row["best_peer"], self.row["cnnfast_vs_best_peer"] = best, fast / peers[best]
        self.row["best_cnnfast"] = min(ours, key=ours.get)
        self.row["best_cnnfast_vs_best_peer"] = ours[self.row["best_cnnfast"]] / peers[best]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--budget-s", type=float, default=360.0)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--compile-reserve-s", type=float, default=150.0,
                   help="start a compile only with this much of the budget left (a max-autotune "
                        "compile of ResNet-50 can take minutes)")
    p.add_argument("--cases", default=None,
                   help="comma-separated model:batch:dtype (e.g. resnet50:1:float16); default: all")
    p.add_argument("--skip-compile", action="store_true", help="no torch.compile phase")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("gpu_bench: no CUDA device visible")
    # Same setting for every method: cuDNN picks its fastest algorithm per shape (as a user
    # tuning for speed would); TF32 stays at PyTorch's defaults and is recorded.
    torch.backends.cudnn.benchmark = True
    start = time.time()
    deadline = start + args.budget_s
    log = lambda msg: print(f"[{time.time() - start:5.0f} s] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
              "settings": {"cudnn.benchmark": True, "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
                           "matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
                           "iters": args.iters},
              "cnnfast_build": {k: v for k, v in cnnfast.build_info().items() if k != "extension_path"},
              "rows": [], "skipped": []}

    def save():  # after every step: a cut-off run still leaves its data
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)

    keys = _cases()
    if args.cases:
        keys = [(m, int(b), d) for m, b, d in (c.split(":") for c in args.cases.split(","))]
    cases = {}
    for key in keys:
        if time.time() > deadline - 20:
            result["skipped"].append({"case": key, "reason": "time budget"})
            continue
        try:
            case = Case(*key)
            case.run_uncompiled(args.iters, profile_kernels=key == TARGET)
            cases[key] = case
            result["rows"].append(case.row)
            log(f"{key}: " + ", ".join(f"{k} {v:.3f} ms" for k, v in case.row["ms"].items()))
        except Exception as e:  # keep going: one failing case must not lose the others' numbers
            result["skipped"].append({"case": key, "reason": f"{type(e).__name__}: {e}"[:300]})
            log(f"{key} failed: {type(e).__name__}: {e}")
        torch.cuda.empty_cache()
        save()
    for key, case in cases.items() if not args.skip_compile else ():
        for mode in COMPILE_MODES:
            if time.time() > deadline - args.compile_reserve_s:
                case.row["skipped"][f"compile_{mode}"] = "time budget"
                continue
            try:
                case.run_compile(mode, args.iters)
                log(f"{key} compile {mode}: {case.row['compile_s'][mode]:.0f} s, "
                    f"{case.row['ms'][f'compile_{mode}']:.3f} ms")
            except Exception as e:
                case.row["skipped"][f"compile_{mode}"] = f"{type(e).__name__}: {e}"[:300]
                log(f"{key} compile {mode} failed: {type(e).__name__}: {e}")
            save()
        torch.cuda.empty_cache()
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
