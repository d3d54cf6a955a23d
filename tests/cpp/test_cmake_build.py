"""CMakeLists.txt builds and installs libcnnfast against the installed LibTorch, and the library
alone (no cnnfast Python package) registers working ops in a fresh process."""

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_install_layout(cnnfast_prefix):
    for path in ("lib/libcnnfast.so", "include/cnnfast/ops.h", "lib/cmake/cnnfast/cnnfastConfig.cmake",
                 "lib/cmake/cnnfast/cnnfastTargets.cmake"):
        assert os.path.exists(os.path.join(cnnfast_prefix, path)), path


@pytest.mark.slow
def test_library_registers_the_ops_without_python_package(cnnfast_prefix):
    lib = os.path.join(cnnfast_prefix, "lib", "libcnnfast.so")
    code = (
        "import torch, sys\n"
        f"torch.ops.load_library({lib!r})\n"
        "assert 'cnnfast' not in sys.modules\n"
        "x = torch.randn(2, 3, 9, 9); w = torch.randn(4, 3, 3, 3); b = torch.randn(4)\n"
        "y = torch.ops.cnnfast.conv2d_bias_act(x, w, b, [1, 1], [1, 1], [1, 1], 1, None, 'relu')\n"
        "ref = torch.relu(torch.nn.functional.conv2d(x, w, b, padding=1))\n"
        "torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]
