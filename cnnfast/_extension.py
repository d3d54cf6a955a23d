"""Loads cnnfast._C (the op library) and says clearly what was built and why something is missing."""

import importlib
import os

import torch

_load_error = None
try:
    importlib.import_module("cnnfast._C")
except ImportError as e:  # keep `import cnnfast` working so the error can be explained
    _load_error = e


def require_extension():
    """Raise a helpful error when the compiled ops are unavailable."""
    if _load_error is not None:
        raise RuntimeError(
            "cnnfast's compiled ops (cnnfast._C) failed to load: "
            f"{_load_error}. Reinstall with `pip install .` (or `pip install --no-build-isolation -e .` "
            "against an existing torch) from the cnnfast source tree."
        ) from _load_error


def _has_kernel(op, key):
    return torch._C._dispatch_has_kernel_for_dispatch_key(op, key)


def build_info():
    """What cnnfast._C was built with: a dict (C++/CUDA kernels, CUDA arch list, torch version)."""
    try:
        from cnnfast import _build_config as cfg
    except ImportError:
        cfg = None
    loaded = _load_error is None
    return {
        "extension_loaded": loaded,
        "extension_path": _extension_path(),
        "load_error": None if loaded else str(_load_error),
        "cpu_kernels": loaded and _has_kernel("cnnfast::conv2d_bias_act", "CPU"),
        "cuda_kernels": loaded and _has_kernel("cnnfast::conv2d_bias_act", "CUDA"),
        "cuda_arch_list": getattr(cfg, "CUDA_ARCH_LIST", None),
        "built_with_torch": getattr(cfg, "TORCH_VERSION", None),
        "running_torch": torch.__version__,
        "onednn": torch.backends.mkldnn.is_available(),
        # cnnfast's own conv engine on oneDNN's brgemm microkernel (csrc/conv_engine): built in
        # and runnable on this CPU; which layers take it: cnnfast.config.conv_path_for.
        "conv_engine": loaded and _conv_engine_available(),
        # whose cores the routing rule tunes for ('intel', 'amd', 'other'): see route.cpp
        "cpu_vendor": _cpu_vendor() if loaded else None,
        # whether the rule takes this CPU for one with AVX-512 (without it: no direct conv kernels)
        "cpu_avx512": _cpu_has_avx512() if loaded else None,
        # the x86-64 level whose build of the per-level kernels runs ('avx512', 'avx2', 'baseline';
        # common/cpu_levels.h): each computes on that level's vector width
        "cpu_level": _cpu_level() if loaded else None,
        "cuda_available": torch.cuda.is_available(),
    }


def _conv_engine_available():
    import cnnfast._C

    return bool(cnnfast._C._conv_engine_available())


def _cpu_vendor():
    # read from _C directly: cnnfast.config imports this module, so importing it back would close
    # an import cycle (tests/test_import_layers.py)
    import cnnfast._C

    return cnnfast._C._cpu_vendor()


def _cpu_level():
    import cnnfast._C  # directly, as _cpu_vendor does

    return ("baseline", "avx2", "avx512")[cnnfast._C._cpu_level()]


def _cpu_has_avx512():
    import cnnfast._C  # directly, as _cpu_vendor does

    return bool(cnnfast._C._cpu_has_avx512())


def _extension_path():
    mod = importlib.util.find_spec("cnnfast._C")
    return os.fspath(mod.origin) if mod and mod.origin else None
