"""The one-line protocol of cnnfast's measuring workers (cnnfast.peer_worker,
cnnfast.layer_counters): each runs alone in a fresh process, since runtimes' thread pools slow
each other when they share one, and prints one JSON line, its result or {"error": "..."}."""

import argparse
import json
import os
import subprocess
import sys
from typing import Callable, Dict, List, Sequence


def report(produce: Callable[[], dict], limit: int = 200) -> int:
    """Print produce()'s result as the worker's line; a failure is printed as its reason (a missing
    optional runtime as "not installed (name)"), so the parent reports it instead of dying."""
    try:
        print(json.dumps(produce()))
    except ImportError as e:
        print(json.dumps({"error": f"not installed ({e.name})"}))
    except Exception as e:  # reported in the table, not fatal to the run
        print(json.dumps({"error": f"{type(e).__name__}: {str(e).strip()[:limit]}"}))
    return 0


def run(module: str, args: List[str], as_avx2: bool = False) -> dict:
    """Run `python -m module args...` and return its line (or why there was none). as_avx2: the
    worker as on a CPU without AVX-512, both sides of it: --as-avx2 (add_worker_arguments) and
    as_avx2_env()."""
    extra, env = (["--as-avx2"], as_avx2_env()) if as_avx2 else ([], None)
    proc = subprocess.run([sys.executable, "-m", module, *args, *extra], capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": f"worker exited {proc.returncode}: {proc.stderr.strip()[-200:]}"}


def add_worker_arguments(p: argparse.ArgumentParser, methods: Sequence[str]) -> None:
    """What every worker is told: which model, batch, method, ONNX file and thread count."""
    p.add_argument("--model", required=True)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--method", choices=methods, required=True)
    p.add_argument("--onnx", default=None, help="the ONNX file (ONNX Runtime, OpenVINO)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--as-avx2", action="store_true",
                   help="cnnfast's kernels at their AVX2 build, routed as without AVX-512 (the parent "
                        "caps oneDNN with as_avx2_env() in this process's environment)")


def as_avx2_env() -> Dict[str, str]:
    """The environment of a worker run as on a CPU without AVX-512: oneDNN (torch's convs, the conv
    engine's microkernel, OpenVINO's plugin) capped at AVX2. ONNX Runtime's MLAS has no such cap."""
    return dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2")


def enter_as_avx2(args: argparse.Namespace) -> None:
    """With --as-avx2, cnnfast's side of as_avx2_env() for the rest of this worker's life: kernels at
    their AVX2 build, routed without AVX-512, for the setup and every timed call alike."""
    if args.as_avx2:
        from cnnfast import config

        config.kernel_level("avx2").__enter__()
        config.route_avx512(False).__enter__()
