"""The one-line protocol of cnnfast's measuring workers (cnnfast.peer_worker,
cnnfast.layer_counters): each runs alone in a fresh process, since runtimes' thread pools slow
each other when they share one, and prints one JSON line, its result or {"error": "..."}."""

import argparse
import ctypes
import functools
import glob
import json
import os
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence


def report(produce: Callable[[], dict], limit: int = 200) -> int:
    """Print produce()'s result as the worker's line; a failure is printed as its reason (a missing
    optional runtime as "not installed (name)"), so the parent reports it instead of dying. In a
    worker that preloads the CPUID library (as_avx2_env) the line also says whether it hid AVX-512."""
    try:
        result = produce()
        hidden = avx512_hidden()
        if hidden is not None:
            result["avx512_hidden"] = hidden
        print(json.dumps(result))
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
    engine's microkernel, OpenVINO's plugin) capped at AVX2, and, where cnnfast built it, the CPUID
    library preloaded (hide_avx512_library), for ONNX Runtime's MLAS, which has no cap of its own
    and reads CPUID. Python's faulthandler stays off there: it would take the SIGSEGV of each CPUID
    for a crash."""
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2")
    env.pop("PYTHONFAULTHANDLER", None)
    library = hide_avx512_library()
    if library:
        env["LD_PRELOAD"] = " ".join(p for p in (library, env.get("LD_PRELOAD", "")) if p)
    return env


def hide_avx512_library() -> Optional[str]:
    """The path of cnnfast's CPUID library (csrc/as_avx2/hide_avx512.cpp: every CPUID in the process
    answers without AVX-512 and AMX), or None where it is not built (only Linux on x86-64 builds it)."""
    found = glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_hide_avx512*.so"))
    return found[0] if found else None


@functools.lru_cache(maxsize=1)  # the library is in the process from its start or never
def _preloaded() -> Optional[ctypes.CDLL]:
    """The CPUID library's functions, found among the process's global symbols, or None (also
    where the process's own symbols cannot be opened: CDLL(None) is POSIX only)."""
    try:
        lib = ctypes.CDLL(None)
    except (OSError, TypeError):
        return None
    if not hasattr(lib, "cnnfast_avx512_hidden"):
        return None
    lib.cnnfast_cpuid_traps.restype = ctypes.c_long
    return lib


def avx512_hidden() -> Optional[bool]:
    """In this process: True when CPUID hides AVX-512 (the library is preloaded and the CPU can
    fault on CPUID: /proc/cpuinfo's cpuid_fault), False when it is preloaded but cannot, None when
    it is not preloaded."""
    lib = _preloaded()
    return None if lib is None else lib.cnnfast_avx512_hidden() == 1


def cpuid_traps() -> int:
    """CPUID instructions the preloaded library has answered in this process so far (0 without it):
    libraries read CPUID at load or first use, so a timed loop should add none."""
    lib = _preloaded()
    return 0 if lib is None else int(lib.cnnfast_cpuid_traps())


def enter_as_avx2(args: argparse.Namespace) -> None:
    """With --as-avx2, cnnfast's side of as_avx2_env() for the rest of this worker's life: kernels at
    their AVX2 build, routed without AVX-512, for the setup and every timed call alike."""
    if args.as_avx2:
        from cnnfast import config

        config.kernel_level("avx2").__enter__()
        config.route_avx512(False).__enter__()


def as_avx2_note(rows: List[Dict]) -> str:
    """How far the --as-avx2 rows (bench or profile results) were capped: whether every worker saw
    CPUID without AVX-512 (as_avx2_env), which is ONNX Runtime's only cap."""
    capped = "cnnfast at its AVX2 builds, oneDNN and OpenVINO capped at AVX2"
    if all(r.get("avx512_hidden") for r in rows):
        return capped + ", and every process's CPUID answering without AVX-512, ONNX Runtime's included"
    return capped + "; ONNX Runtime's column is this CPU's own (CPUID could not hide AVX-512 here)"
