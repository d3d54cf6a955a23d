"""The --as-avx2 workers' CPUID library (csrc/as_avx2/hide_avx512.cpp, preloaded by
worker_io.as_avx2_env): every library in such a process, ONNX Runtime's included, sees a CPU
without AVX-512; a process without it is untouched; a real segfault still crashes."""

import json
import os
import signal
import subprocess
import sys

import pytest

from cnnfast import config, worker_io

LIBRARY = worker_io.hide_avx512_library()
needs_library = pytest.mark.skipif(LIBRARY is None, reason="the CPUID library is built only on Linux x86-64")


def _cpuid_faulting() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and "cpuid_fault" in line.split() for line in f)
    except OSError:
        return False


def _run(code: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=env if env is not None else worker_io.as_avx2_env())


PROBE = """
import json, numpy, torch
from cnnfast import config, worker_io
try:
    from numpy._core._multiarray_umath import __cpu_features__
except ImportError:
    from numpy.core._multiarray_umath import __cpu_features__
print(json.dumps({"hidden": worker_io.avx512_hidden(), "traps": worker_io.cpuid_traps(),
                  "levels": list(config.kernel_levels()), "torch": torch.backends.cpu.get_cpu_capability(),
                  "numpy_avx512f": __cpu_features__.get("AVX512F"), "numpy_avx2": __cpu_features__.get("AVX2")}))
"""


@needs_library
def test_preloaded_library_hides_avx512_from_every_library():
    if "avx512" not in config.kernel_levels():
        pytest.skip("this CPU has no AVX-512 to hide")
    if not _cpuid_faulting():
        pytest.skip("this CPU cannot fault on CPUID (no cpuid_fault flag)")
    proc = _run(PROBE)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["hidden"] is True and seen["traps"] > 0, seen
    # cnnfast's own detection (libgcc's __builtin_cpu_supports), torch's (cpuinfo) and numpy's:
    assert seen["levels"] == ["baseline", "avx2"], seen
    assert seen["torch"] == "AVX2" and seen["numpy_avx512f"] is False and seen["numpy_avx2"] is True, seen


@needs_library
def test_without_the_library_nothing_is_hidden():
    assert worker_io.avx512_hidden() is None and worker_io.cpuid_traps() == 0  # this test process
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    seen = json.loads(_run(PROBE, env).stdout.strip().splitlines()[-1])
    assert seen["hidden"] is None and seen["traps"] == 0
    assert seen["levels"] == list(config.kernel_levels())


@needs_library
def test_a_real_segfault_still_crashes():
    # Faults other than CPUID go to the handler that was there before: here the default action.
    proc = _run("import ctypes; ctypes.string_at(0)")
    assert proc.returncode == -signal.SIGSEGV, (proc.returncode, proc.stderr[-300:])


@needs_library
def test_worker_env_preloads_it_and_keeps_faulthandler_off(monkeypatch):
    monkeypatch.setenv("LD_PRELOAD", "/some/other.so")
    monkeypatch.setenv("PYTHONFAULTHANDLER", "1")
    env = worker_io.as_avx2_env()
    assert env["LD_PRELOAD"].split() == [LIBRARY, "/some/other.so"]
    assert "PYTHONFAULTHANDLER" not in env and env["ONEDNN_MAX_CPU_ISA"] == "AVX2"


def test_as_avx2_note_says_whether_onnx_runtime_was_capped():
    assert "ONNX Runtime's included" in worker_io.as_avx2_note([{"avx512_hidden": True}] * 2)
    note = worker_io.as_avx2_note([{"avx512_hidden": True}, {"avx512_hidden": False}])
    assert "this CPU's own" in note and "ONNX Runtime's included" not in note
