"""`cnnfast bench`: eager vs cnnfast.optimize() on the lecture models, interleaved medians, a table."""

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from typing import Dict, List

import torch

import cnnfast
from cnnfast import config, models
from cnnfast.bench_tables import format_peer_table, format_table, write_chart
from cnnfast.testing import randomize_batchnorm, rel_err

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _gflop(model, x) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(x)
    return counter.get_total_flops() / 1e9


def _sample(fn, x, min_samples: int, min_seconds: float) -> List[float]:
    fn(x)  # untimed: lets the previous method's threads and caches settle
    out, start = [], time.perf_counter()
    while len(out) < min_samples or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t)
    return out


def bench_model(name: str, batch: int, device: str, dtype: torch.dtype, repeat: int,
                min_seconds: float, script: bool = False, peers: bool = False) -> Dict:
    spec = models.get(name)
    torch.manual_seed(0)
    eager = randomize_batchnorm(spec.build()).eval().to(device=device, dtype=dtype)
    x = spec.example_input(batch).to(device=device, dtype=dtype)
    # example_input as a user would pass it: weights packed for its shape, micro-batches for its batch
    start = time.perf_counter()
    fast = cnnfast.optimize(eager, script=script, example_input=x)
    optimize_s = time.perf_counter() - start
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def timed(model):
        def call(inp):
            model(inp)
            sync()
        return call

    methods = {"eager": timed(eager), "cnnfast": timed(fast)}
    peer_setup, peer_errors = {}, {}
    scripted = None
    if peers and not script:
        # The same rewrite frozen as TorchScript (optimize(..., script=True)): no Python between
        # the ops, which is most of the difference on the small networks at batch 1.
        scripted = cnnfast.optimize(eager, script=True, example_input=x)
        methods["cnnfast_script"] = timed(scripted)
    if peers:
        from cnnfast.peers import build_peers

        built, peer_setup, peer_errors = build_peers(eager, x, torch.get_num_threads())
        methods.update({n: timed(p) for n, p in built.items()})
    samples: Dict[str, List[float]] = {m: [] for m in methods}
    with torch.inference_mode():
        ref, out = eager(x), fast(x)
        err = rel_err(out.float(), ref.float())
        if scripted is not None:
            err = max(err, rel_err(scripted(x).float(), ref.float()))
        for _ in range(3):  # warm-up: weight prepacking, allocator, thread pools
            for fn in methods.values():
                fn(x)
        for _ in range(repeat):  # interleaved passes, so drift hits both methods alike
            for m, fn in methods.items():
                samples[m] += _sample(fn, x, 4, min_seconds)
    return _result_row(name, batch, _gflop(eager, x), samples, peer_setup, peer_errors, err,
                       cnnfast.report(fast), optimize_s)


def _result_row(name: str, batch: int, gflop: float, samples: Dict[str, List[float]], peer_setup: Dict,
                peer_errors: Dict, err: float, rep, optimize_s: float, **extra) -> Dict:
    """One row of the bench table from each method's samples (seconds): eager, cnnfast,
    cnnfast_script (optional), the rest peers."""
    ms = {m: statistics.median(v) * 1e3 for m, v in samples.items() if v}
    eager_ms, fast_ms, script_ms = ms["eager"], ms["cnnfast"], ms.get("cnnfast_script")
    peer_ms = {m: v for m, v in ms.items() if m not in ("eager", "cnnfast", "cnnfast_script")}
    best = min(peer_ms, key=peer_ms.get) if peer_ms else None
    best_fast = min(fast_ms, script_ms) if script_ms is not None else fast_ms
    return {
        "peers_ms": peer_ms, "peer_setup_s": peer_setup, "peer_errors": peer_errors,
        "cnnfast_script_ms": script_ms,
        # the faster of the two cnnfast forms (plain / script=True) against the fastest peer
        "best_peer": best, "cnnfast_vs_best_peer": best_fast / peer_ms[best] if best else None,
        "model": name, "batch": batch, "gflop": gflop, "eager_ms": eager_ms, "cnnfast_ms": fast_ms,
        "speedup": eager_ms / fast_ms, "gflops_per_s": gflop / (fast_ms / 1e3), "max_rel_err": err,
        "fusions": sum(rep.fused.values()), "fused": dict(rep.fused), "skipped": len(rep.skipped),
        "optimize_s": optimize_s, "samples": {m: len(s) for m, s in samples.items()}, **extra,
    }


def bench_model_isolated(name: str, batch: int, threads: int, repeat: int, min_seconds: float,
                         as_avx2: bool = False) -> Dict:
    """bench_model with --peers, each method in its own process (cnnfast.peer_worker): eager,
    cnnfast (plain and script=True), ONNX Runtime and OpenVINO, rounds alternating over the methods
    with a short pause between processes; medians over all rounds' samples. as_avx2: every worker
    as on a CPU without AVX-512 (add_arguments' --as-avx2)."""
    import tempfile

    from cnnfast import worker_io
    from cnnfast.peers import _onnx_bytes

    spec = models.get(name)
    torch.manual_seed(0)
    eager = randomize_batchnorm(spec.build()).eval()
    x = spec.example_input(batch)
    with contextlib.ExitStack() as levels:
        if as_avx2:
            levels.enter_context(config.kernel_level("avx2"))
            levels.enter_context(config.route_avx512(False))
        start = time.perf_counter()
        fast = cnnfast.optimize(eager, example_input=x)  # as the workers build what they time
        optimize_s = time.perf_counter() - start
        with torch.inference_mode():
            err = rel_err(fast(x).float(), eager(x).float())
    gflop = _gflop(eager, x)
    methods = ["eager", "cnnfast", "cnnfast_script", "onnxruntime", "openvino"]
    samples: Dict[str, List[float]] = {m: [] for m in methods}
    setup, errors, hidden, traps = {}, {}, [], 0
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "model.onnx")
        try:
            with open(onnx_path, "wb") as f:
                f.write(_onnx_bytes(eager, x))
        except Exception as e:
            errors["onnxruntime"] = errors["openvino"] = f"ONNX export failed: {type(e).__name__}"
        for _ in range(repeat):
            for m in methods:
                if m in errors:
                    continue
                result = worker_io.run("cnnfast.peer_worker", [
                    "--model", name, "--batch", str(batch), "--method", m, "--onnx", onnx_path,
                    "--threads", str(threads), "--min-seconds", str(min_seconds)], as_avx2)
                if "error" in result:
                    errors[m] = result["error"]
                else:
                    samples[m] += result["samples"]
                    setup[m] = result["setup_s"]
                    hidden.append(result.get("avx512_hidden", False))
                    traps = max(traps, result.get("cpuid_traps_timed", 0))
                time.sleep(0.3)  # let the last process's threads and caches go quiet
    if not samples["eager"] or not samples["cnnfast"]:
        raise RuntimeError(f"cnnfast bench: {name} b{batch}: eager/cnnfast could not be timed: {errors}")
    peers = ("onnxruntime", "openvino")
    return _result_row(name, batch, gflop, samples, {m: t for m, t in setup.items() if m in peers},
                       {m: e for m, e in errors.items() if m in peers}, err, cnnfast.report(fast), optimize_s,
                       isolated=True, **(_as_avx2_fields(hidden, traps) if as_avx2 else {}))


def _as_avx2_fields(hidden: List[bool], traps: int) -> Dict:
    """What an --as-avx2 row records of its workers: whether every one of them saw CPUID without
    AVX-512 (worker_io.as_avx2_env's library; ONNX Runtime is capped only that way) and the most
    CPUID traps any had inside its timed loop (0 unless a library reads CPUID per call)."""
    return {"as_avx2": True, "avx512_hidden": bool(hidden) and all(hidden), "cpuid_traps_timed": traps}


def machine_info(threads: int, device: str) -> Dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "threads": threads, "python": platform.python_version(),
            "torch": torch.__version__, "cnnfast": cnnfast.__version__, "device": device,
            # set by the first optimize(), before any timing: every method runs under it
            "block_cache": cnnfast.memory.block_cache_stats().installed}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", default="all",
                   help=f"comma-separated names or 'all' (default); known: {', '.join(models.MODELS)}")
    p.add_argument("--batch", type=int, nargs="+", default=[1], help="batch sizes (default: 1)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved passes per method (default: 3)")
    p.add_argument("--min-seconds", type=float, default=0.5, help="minimum time per method per pass")
    p.add_argument("--peers", action="store_true",
                   help="also time cnnfast with script=True, channels_last eager, TorchScript "
                        "freeze+optimize_for_inference, torch.compile (freezing), ONNX Runtime and "
                        "OpenVINO (if installed)")
    p.add_argument("--in-process", action="store_true",
                   help="with --peers: time every method in this one process, interleaved, including "
                        "channels_last eager, TorchScript and torch.compile (default: eager, cnnfast, "
                        "ONNX Runtime and OpenVINO each in its own process, which is what the peers' "
                        "comparison needs: their thread pools slow torch's in a shared process)")
    p.add_argument("--as-avx2", action="store_true",
                   help="with --peers on the CPU (fp32, each method in its own process): run as on a CPU "
                        "without AVX-512, on one that has it: cnnfast's kernels at their AVX2 build and "
                        "routed without AVX-512, oneDNN (torch's convs, the conv engine's microkernel, "
                        "OpenVINO's) capped with ONEDNN_MAX_CPU_ISA=AVX2, and on Linux x86-64 every "
                        "worker's CPUID answering without AVX-512 (ONNX Runtime's only cap; needs the "
                        "CPU's CPUID faulting, /proc/cpuinfo flag cpuid_fault; the table says if not)")
    p.add_argument("--script", action="store_true",
                   help="optimize(..., script=True): also freeze the result as TorchScript")
    p.add_argument("--out", default=None, help="directory for results.json (and chart.png with matplotlib)")


def run(args: argparse.Namespace) -> int:
    names = list(models.MODELS) if args.models == "all" else [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in models.MODELS]
    if unknown:
        _progress(f"cnnfast bench: unknown model(s): {', '.join(unknown)}. Known: {', '.join(models.MODELS)}")
        return 2
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        _progress("cnnfast bench: --device cuda requested but no CUDA device is available")
        return 2
    if args.device not in ("cpu",) and not args.device.startswith("cuda"):
        _progress(f"cnnfast bench: unsupported device {args.device!r} (use cpu or cuda)")
        return 2
    if any(b < 1 for b in args.batch) or args.repeat < 1:
        _progress("cnnfast bench: --batch and --repeat must be >= 1")
        return 2
    if args.as_avx2:
        if not (args.peers and not args.in_process and args.device == "cpu" and args.dtype == "float32"):
            _progress("cnnfast bench: --as-avx2 needs --peers on the CPU in fp32, each method in its own process")
            return 2
        if "avx2" not in config.kernel_levels():
            _progress("cnnfast bench: --as-avx2: this CPU cannot run AVX2 code")
            return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    dtype = DTYPES[args.dtype]
    jobs = [(n, b) for n in names for b in args.batch]
    rows = []
    start = time.perf_counter()
    for i, (name, batch) in enumerate(jobs, 1):
        _progress(f"[{i}/{len(jobs)}] {name} batch {batch} ({time.perf_counter() - start:.0f} s elapsed)")
        if args.peers and not args.in_process and args.device == "cpu" and args.dtype == "float32":
            rows.append(bench_model_isolated(name, batch, threads, args.repeat, args.min_seconds, args.as_avx2))
        else:
            rows.append(bench_model(name, batch, args.device, dtype, args.repeat, args.min_seconds, args.script,
                                    args.peers))
        r = rows[-1]
        _progress(f"        eager {r['eager_ms']:.2f} ms, cnnfast {r['cnnfast_ms']:.2f} ms ({r['speedup']:.2f}x)")
    print(f"\ncnnfast bench: {args.device}, {args.dtype}, {threads} threads, medians of {args.repeat} "
          "interleaved passes\n")
    print(format_table(rows))
    if args.peers:
        print("\n" + format_peer_table(rows))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "results.json")
        with open(path, "w") as f:
            machine = dict(machine_info(threads, args.device), **({"as_avx2": True} if args.as_avx2 else {}))
            json.dump({"machine": machine, "dtype": args.dtype, "results": rows}, f, indent=1)
        print(f"\nwrote {path}")
        chart = os.path.join(args.out, "chart.png")
        if write_chart(rows, chart):
            print(f"wrote {chart}")
        else:
            print("no chart: matplotlib is not installed (pip install matplotlib)")
    return 0
