"""The block cache: keep freed activation memory in the process for the next forward pass.

A forward pass at batch 8 makes activations of 25-100 MB (VGG-16's first layers: 8 x 64 x 224 x
224 floats = 103 MB). glibc serves every block above its mmap threshold (adaptive, at most 32 MB)
with a fresh mmap and unmaps it on free, so each such tensor is page-faulted in, and zeroed by the
kernel, on every call: measured on an AMD EPYC (2 threads), VGG-16's 3 -> 64 conv at batch 8 took
31 ms instead of 6.6 ms and its 64 -> 64 conv 89 ms instead of 62 ms, the difference all page
faults. ONNX Runtime and OpenVINO keep their own memory arenas for this reason.

The block cache (csrc/allocator/block_cache.cpp) takes the place of PyTorch's CPU allocator for
the whole process, as torch.cuda's caching allocator does on a GPU: blocks of 256 KB and more are
kept when freed and handed out again for a request of the same size (64 KB classes), or, when one
of the last 16 blocks freed is of that size up to twice it, the most recent of those: it is likely
still in the CPU's caches, so the tensor written there costs no read of cold memory (1-4% of a
forward pass, measured in benchmarks/results/cpu_block_cache_recent_intel.md); smaller ones go to
c10's allocator as before. When a freed block would take the cache past its cap (1 GiB
unless set), everything it holds is returned to the system first: the work has moved on to other
sizes. torch.profiler sees the same memory events as with c10's allocator.

Who decides: cnnfast.optimize() installs it for CPU models (block_cache=True, the default) and
says so in its report, but never changes a choice made here: after install_block_cache(cap) the
cap stays, after uninstall_block_cache() optimize() leaves it out. It never replaces a CPU
allocator someone else installed.
"""

import threading
from typing import NamedTuple, Optional

from cnnfast import _C

DEFAULT_MAX_CACHED_BYTES = _C._block_cache_default_max_cached_bytes  # the cap a first install uses

_choice_lock = threading.Lock()
_user_choice: Optional[bool] = None  # what the user last asked for here; None: not asked


class BlockCacheStats(NamedTuple):
    installed: bool
    max_cached_bytes: int  # the cap
    cached_bytes: int  # free blocks held for reuse
    hits: int  # requests of >= 256 KB served from them
    misses: int  # requests of >= 256 KB that went to the system


def install_block_cache(max_cached_bytes: Optional[int] = None) -> bool:
    """Install the block cache for the whole process; `max_cached_bytes` sets its cap (None keeps
    the current one). Returns whether it is installed: False when another custom CPU allocator
    is in place, which is never replaced. Thread-safe."""
    if max_cached_bytes is not None and max_cached_bytes < 0:
        raise ValueError(f"install_block_cache: max_cached_bytes must be >= 0, got {max_cached_bytes}")
    global _user_choice
    with _choice_lock:
        _user_choice = True
        return _C._block_cache_install(-1 if max_cached_bytes is None else int(max_cached_bytes))


def uninstall_block_cache() -> None:
    """Put PyTorch's CPU allocator back and return the cached blocks to the system; optimize()
    will not install the cache again. Tensors allocated meanwhile stay valid. Thread-safe."""
    global _user_choice
    with _choice_lock:
        _user_choice = False
        _C._block_cache_uninstall()


def block_cache_stats() -> BlockCacheStats:
    """Whether the block cache is installed, its cap, what it holds and how often it was used."""
    return BlockCacheStats(*_C._block_cache_stats())


def release_block_cache() -> None:
    """Return every block the cache holds free to the system (it stays installed)."""
    _C._block_cache_release()


def install_for_optimize() -> str:
    """What optimize(block_cache=True) does: install the cache unless the user chose otherwise
    here, never changing the cap. Returns the note for optimize()'s report."""
    with _choice_lock:
        if _user_choice is False:
            return "block cache left out: uninstall_block_cache() was called in this process"
        if block_cache_stats().installed:
            return "block cache in use (process-wide, cnnfast.memory): large activations are reused"
        if _C._block_cache_install(-1):
            return ("block cache installed (process-wide, cnnfast.memory; block_cache=False leaves PyTorch's "
                    "allocator alone): large activations are reused, not page-faulted in")
        return "block cache not installed: another CPU allocator is in place"
