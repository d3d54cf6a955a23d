"""Builds (once per session) libcnnfast with CMake, installs it into a temporary prefix, and
builds examples/cpp against that installed package, as a LibTorch user would."""

import os
import shutil
import subprocess

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def _jobs():
    return str(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def cnnfast_prefix(tmp_path_factory):
    """Install prefix holding lib/libcnnfast.so, include/cnnfast/ops.h and the CMake package."""
    if shutil.which("cmake") is None or (shutil.which("c++") is None and shutil.which("g++") is None):
        pytest.skip("cmake or a C++ compiler is not installed: the C++ deployment tests need both")
    build = tmp_path_factory.mktemp("cnnfast-build")
    prefix = tmp_path_factory.mktemp("cnnfast-install")
    _run(["cmake", "-S", ROOT, "-B", str(build), f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
          f"-DCMAKE_INSTALL_PREFIX={prefix}", "-DCMAKE_BUILD_TYPE=Release",
          # One baseline copy of each vector kernel, not three: these tests check the package and
          # the ops' registration; the kernels' clones are tested through the Python extension.
          # It cut this build from ~22 to ~15 minutes on a 2-core AMD EPYC (Zen 3) VM.
          "-DCNNFAST_CPU_CLONES=OFF"])
    _run(["cmake", "--build", str(build), "-j", _jobs()])
    _run(["cmake", "--install", str(build)])
    return prefix


@pytest.fixture(scope="session")
def cnnfast_run(cnnfast_prefix, tmp_path_factory):
    """Path of the built examples/cpp/cnnfast_run program."""
    build = tmp_path_factory.mktemp("cnnfast-run-build")
    _run(["cmake", "-S", os.path.join(ROOT, "examples", "cpp"), "-B", str(build),
          f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path};{cnnfast_prefix}", "-DCMAKE_BUILD_TYPE=Release"])
    _run(["cmake", "--build", str(build), "-j", _jobs()])
    exe = build / "cnnfast_run"
    assert exe.exists()
    return exe
