"""CMakeLists.txt configures and builds libcnnfast against the installed LibTorch, and the
library alone (no cnnfast Python package) registers working ops in a fresh process."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def libcnnfast(tmp_path_factory):
    if shutil.which("cmake") is None or (shutil.which("c++") is None and shutil.which("g++") is None):
        pytest.skip("cmake or a C++ compiler is not installed")
    build = tmp_path_factory.mktemp("cmake-build")
    prefix = torch.utils.cmake_prefix_path
    jobs = str(max(1, min(2, os.cpu_count() or 1)))
    for cmd in (["cmake", "-S", ROOT, "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}",
                 "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", str(build), "-j", jobs]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    lib = build / "libcnnfast.so"
    assert lib.exists()
    return lib


@pytest.mark.slow
def test_library_registers_the_ops_without_python_package(libcnnfast):
    code = (
        "import torch, sys\n"
        f"torch.ops.load_library({str(libcnnfast)!r})\n"
        "assert 'cnnfast' not in sys.modules\n"
        "x = torch.randn(2, 3, 9, 9); w = torch.randn(4, 3, 3, 3); b = torch.randn(4)\n"
        "y = torch.ops.cnnfast.conv2d_bias_act(x, w, b, [1, 1], [1, 1], [1, 1], 1, None, 'relu')\n"
        "ref = torch.relu(torch.nn.functional.conv2d(x, w, b, padding=1))\n"
        "torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]
