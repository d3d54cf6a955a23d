"""Builds cnnfast._C from csrc/: C++ always, CUDA whenever a CUDA toolkit and a CUDA build of torch
are present (GPU attached or not). CNNFAST_CUDA=0/1 overrides; TORCH_CUDA_ARCH_LIST is respected."""

import glob
import os
import platform
import shutil
import subprocess
import sys

from setuptools import Extension, setup

ROOT = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ARCH_LIST = "8.0;9.0"  # A100 and H100; used only when no GPU is visible at build time.


def _find_cuda_home():
    # torch guesses CUDA_HOME from `which nvcc`, which breaks on wrapper scripts such as
    # /usr/local/bin/nvcc; look for a directory that really holds the toolkit.
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))))
    for home in candidates:
        if home and os.path.exists(os.path.join(home, "bin", "nvcc")) and os.path.exists(
            os.path.join(home, "include", "cuda_runtime.h")
        ):
            return home
    return None


_cuda_home = _find_cuda_home()
if _cuda_home:
    os.environ["CUDA_HOME"] = _cuda_home  # must be set before torch.utils.cpp_extension is imported

import torch  # noqa: E402
from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension  # noqa: E402


def _want_cuda():
    flag = os.environ.get("CNNFAST_CUDA")
    if flag is not None:
        if flag == "1" and not (_cuda_home and torch.version.cuda):
            sys.exit("CNNFAST_CUDA=1 but no CUDA toolkit (nvcc + headers) or no CUDA build of torch")
        return flag == "1"
    # Decided from the toolchain, never from torch.cuda.is_available(): a GPU-less build host
    # must still compile the CUDA kernels.
    return bool(_cuda_home and torch.version.cuda)


with_cuda = _want_cuda()
if with_cuda and not os.environ.get("TORCH_CUDA_ARCH_LIST") and not torch.cuda.is_available():
    os.environ["TORCH_CUDA_ARCH_LIST"] = DEFAULT_ARCH_LIST

# csrc/as_avx2 is a library of its own (below), not part of _C.
PRELOAD_DIR = os.path.join("csrc", "as_avx2", "")
sources = [s for s in sorted(glob.glob(os.path.join("csrc", "**", "*.cpp"), recursive=True)) if not s.startswith(PRELOAD_DIR)]
if with_cuda:
    sources += sorted(glob.glob(os.path.join("csrc", "**", "*.cu"), recursive=True))

# The C++ standard comes from torch.utils.cpp_extension (C++17 up to torch 2.13, C++20 after).
# -g0: Python's own CFLAGS (sysconfig) carry -g, and debug info for the unrolled vector kernels
# made them compile ~1.35x longer (stem_conv_cpu.cpp: 9.0 against 6.7 min on an AMD EPYC Zen 3)
# and their objects twice as large, for a release build nobody steps through.
cxx_flags = ["-O3", "-g0", "-fopenmp", "-fvisibility=hidden"]
nvcc_flags = ["-O3", "--expt-relaxed-constexpr"]


def _shared_libstdcxx():
    """The compiler's shared libstdc++, named on the link line ahead of the driver's own libraries.

    A toolchain that links C++ statically (-static-libstdc++ in a wrapper or spec file; seen on
    the lent GPU machine: its build of _C held libstdc++'s code and no NEEDED libstdc++.so.6) gives
    the process two copies of libstdc++, torch's and ours, whose locale facet ids differ: every
    number formatted into an error message then crashed (torch 2.11 there) or was cut off (a
    -static-libstdc++ build here). Named first, the shared library resolves every symbol and the
    static archive contributes nothing."""
    if not sys.platform.startswith("linux"):
        return []
    try:
        found = subprocess.run([os.environ.get("CXX", "c++"), "-print-file-name=libstdc++.so"],
                               capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return []
    return [found] if os.path.isabs(found) and os.path.exists(found) else []


# CNNFAST_EXTRA_LDFLAGS: more link flags (tests of the build itself, e.g. -static-libstdc++).
link_flags = ["-fopenmp", *_shared_libstdcxx(), *os.environ.get("CNNFAST_EXTRA_LDFLAGS", "").split()]
if os.environ.get("CNNFAST_SANITIZE") == "1":  # tools/sanitize.sh: ASan + UBSan build of the C++ kernels
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]
    cxx_flags = [f for f in cxx_flags if f not in ("-O3", "-g0")] + ["-O1", "-g"] + sanitize
    link_flags += sanitize
extension_cls = CUDAExtension if with_cuda else CppExtension
ext = extension_cls(
    name="cnnfast._C",
    sources=sources,
    include_dirs=[os.path.join(ROOT, "csrc")],
    extra_compile_args={"cxx": cxx_flags, "nvcc": nvcc_flags} if with_cuda else {"cxx": cxx_flags},
    extra_link_args=link_flags,
    define_macros=[("CNNFAST_WITH_CUDA", "1" if with_cuda else "0")],
)

# What was built, for cnnfast.build_info(); regenerated on every build, never committed.
with open(os.path.join(ROOT, "cnnfast", "_build_config.py"), "w") as f:
    f.write('"""Generated by setup.py: what cnnfast._C was built with."""\n')
    f.write(f"WITH_CUDA = {with_cuda!r}\n")
    f.write(f"CUDA_ARCH_LIST = {os.environ.get('TORCH_CUDA_ARCH_LIST') if with_cuda else None!r}\n")
    f.write(f"TORCH_VERSION = {torch.__version__!r}\n")
    f.write(f"CUDA_VERSION = {torch.version.cuda if with_cuda else None!r}\n")

ext_modules = [ext]
if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64"):
    # What the --as-avx2 measuring workers preload so that every library in them, ONNX Runtime's
    # included, sees a CPU without AVX-512 (csrc/as_avx2/hide_avx512.cpp). Plain C++, no torch;
    # a shared library in the package, never imported.
    ext_modules.append(Extension("cnnfast._hide_avx512", sources=[os.path.join(PRELOAD_DIR, "hide_avx512.cpp")],
                                 extra_compile_args=["-O2", "-g0", "-fvisibility=hidden"]))

setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)})
