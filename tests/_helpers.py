"""What the tests share: the per-dtype tolerance table, the (device, backend) pairs the op tests
run on, the error metric and random BatchNorm statistics, and the optimize-and-compare check.
Test modules import from here, never from one another (conftest.py holds only fixtures and
process settings)."""

import os

import pytest
import torch

import cnnfast
from cnnfast.testing import randomize_batchnorm, rel_err  # noqa: F401  (re-exported for tests)

# Relative to the largest magnitude of the reference output. fp32: oneDNN's blocked summation
# order and BN folding differ from eager in the last bits (~1e-6 seen); fp64 is exact to ~1e-12;
# half types keep 8 (bf16) / 11 (fp16) mantissa bits and round every intermediate.
TOLERANCE = {
    torch.float64: 1e-10,
    torch.float32: 1e-5,
    torch.bfloat16: 2e-2,
    torch.float16: 4e-3,
}
MODEL_TOLERANCE = 1e-4  # whole fp32 models: the foundation issue's bar

# Kernels written in AVX-512 alone (the narrow grouped kernel, grouped_narrow_cpu.cpp) run only on
# CPUs that have it; elsewhere (AMD Zen 2/3: AVX2) those layers stay with oneDNN. torch reads the
# same CPUID bits.
CPU_HAS_AVX512 = torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def grouped_kernel_runs(channels, groups):
    """Whether the direct grouped kernel takes this group width at the running kernel level: groups
    of 2-8 channels need the narrow loop's AVX-512 or AVX2 build (none at the baseline level, nor
    the AVX2 one under sanitizers); wider groups run everywhere."""
    from cnnfast import config

    if channels // groups >= 16:
        return True
    with config.force_conv_path("grouped"):
        shape = ((1, channels, 8, 8), (channels, channels // groups, 3, 3))
        return config.conv_path_for(*shape, 1, 1, 1, groups) == "grouped"


def skip_unless_grouped_kernel_runs(channels, groups):
    if not grouped_kernel_runs(channels, groups):
        pytest.skip("groups of 2-8 channels: no build of the narrow grouped loop runs at this level")


def _triton_usable(device: str) -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return device == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


# (device, backend) pairs every op test runs on: the C++ kernels on the CPU always; the Triton
# kernels through the interpreter here; CUDA and Triton-on-GPU where a GPU is present.
DEVICE_BACKENDS = [("cpu", "auto")]
if _triton_usable("cpu"):
    DEVICE_BACKENDS.append(("cpu", "triton"))
if torch.cuda.is_available():
    DEVICE_BACKENDS += [("cuda", "auto")] + ([("cuda", "triton")] if _triton_usable("cuda") else [])


def inner(fast):
    """The model optimize() returned, without its cnnfast.replay.Replay wrapper (if any)."""
    from cnnfast.replay import Replay

    return fast.module if isinstance(fast, Replay) else fast


def check_same(model, x, tol=MODEL_TOLERANCE):
    """optimize(model) with random BN statistics; its output on x within tol of eager; returned."""
    model = randomize_batchnorm(model).eval()
    with torch.no_grad():
        ref = model(x)
    fast = cnnfast.optimize(model)
    with torch.no_grad():
        out = fast(x)
    assert rel_err(out, ref) <= tol
    return fast


def run_in_threads(work, n: int = 4) -> None:
    """work(i) for i < n, each in its own thread, all started before any is joined."""
    import threading

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
