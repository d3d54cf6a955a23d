"""Every op in torch.ops.cnnfast has all its layers (STYLE.md): schema in C++, CPU kernel, CUDA
kernel when built with CUDA, autograd guard, fake kernel, Python wrapper, reference, test, bench."""

import os
import shutil
import subprocess
import sys

import pytest
import torch

import cnnfast
import cnnfast.reference

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPS = sorted(n.split("::", 1)[1] for n in torch._C._dispatch_get_all_op_names() if n.startswith("cnnfast::"))


def test_the_library_has_ops():
    assert {"conv2d_bias_act", "se_squeeze", "se_excite", "se_scale", "se_scale_"} <= set(OPS)


@pytest.mark.parametrize("op", OPS)
def test_op_is_complete(op):
    qualname = f"cnnfast::{op}"
    assert torch._C._dispatch_has_kernel_for_dispatch_key(qualname, "CPU"), "no CPU kernel"
    if cnnfast.build_info()["cuda_kernels"] or cnnfast.build_info()["cuda_arch_list"]:
        assert torch._C._dispatch_has_kernel_for_dispatch_key(qualname, "CUDA"), "no CUDA kernel"
    assert torch._C._dispatch_has_kernel_for_dispatch_key(qualname, "Autograd"), "no autograd guard"
    entry = torch._library.simple_registry.singleton.find(qualname)
    assert entry.fake_impl.kernel is not None, "no fake kernel (torch.library.register_fake)"
    assert hasattr(cnnfast.ops, op), "no Python wrapper in cnnfast.ops"
    # An in-place variant (trailing _) lives in its functional op's files and shares its reference.
    op = op.rstrip("_")
    assert hasattr(cnnfast.reference, op), "no reference in cnnfast.reference"
    for path in (f"csrc/ops/{op}/{op}_cpu.cpp", f"csrc/ops/{op}/{op}_cuda.cu", f"cnnfast/ops/{op}.py",
                 f"cnnfast/reference/{op}.py", f"tests/ops/test_{op}.py", f"benchmarks/ops/bench_{op}.py"):
        assert os.path.exists(os.path.join(ROOT, path)), f"missing {path}"
    # The schema is defined in C++ (TORCH_LIBRARY), so a C++-only process sees it too.
    assert f'"{op}(' in open(os.path.join(ROOT, "csrc", "registration.cpp")).read()


def test_build_info_reports_what_was_built():
    info = cnnfast.build_info()
    assert info["extension_loaded"] and info["cpu_kernels"]
    assert info["running_torch"] == torch.__version__


def test_error_messages_format_numbers():
    # A second copy of libstdc++ inside _C (a toolchain linking it statically) breaks exactly this:
    # the number was cut off here and crashed the process on the lent GPU machine (setup.py).
    with pytest.raises(ValueError, match=r"got shape \[2, 4, 5\]"):
        torch.ops.cnnfast.shuffle_channels([torch.randn(2, 4, 5)], torch.tensor([0, 1]), [2])


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("readelf") is None,
                    reason="reads the ELF dynamic section with readelf")
def test_extension_shares_the_process_libstdcxx():
    dynamic = subprocess.run(["readelf", "-d", cnnfast.build_info()["extension_path"]],
                             capture_output=True, text=True, check=True).stdout
    assert "[libstdc++.so.6]" in dynamic, "cnnfast._C holds its own libstdc++ (see setup.py)"
