"""Keep freed activation memory in the process for the next forward pass.

A forward pass at batch 8 makes activations of 25-100 MB (VGG-16's first layers: 8 x 64 x 224 x
224 floats = 103 MB). glibc serves every block above its mmap threshold (adaptive, at most 32 MB)
with a fresh mmap and unmaps it on free, so each such tensor is page-faulted in, and zeroed by the
kernel, on every call: measured here, VGG-16's 3 -> 64 conv at batch 8 took 31 ms instead of
6.6 ms and its 64 -> 64 conv 89 ms instead of 62 ms, the difference all page faults. ONNX Runtime
and OpenVINO keep their own memory arenas for this reason.

keep_freed_memory() installs cnnfast's caching CPU allocator (csrc/common/cpu_block_cache.cpp) as
PyTorch's CPU allocator: blocks of 256 KB and more are kept when freed and handed out again for a
request of the same size (64 KB classes); smaller ones go to c10's allocator as before. When a
freed block would take the cache past `max_cached_bytes` (default 1 GiB), everything it holds is
returned to the system first: the work has moved on to other sizes (another model or batch). It applies to the whole process, like torch.cuda's caching allocator
on a GPU; optimize() installs it for CPU models unless reuse_memory=False and says so in its
report. It sends torch.profiler the same memory events as c10's allocator (profile_memory=True).
"""

from typing import NamedTuple

from cnnfast import _C

DEFAULT_MAX_CACHED_BYTES = 1 << 30


class CacheStats(NamedTuple):
    installed: bool
    cached_bytes: int  # free blocks held for reuse
    hits: int  # requests of >= 256 KB served from them
    misses: int  # requests of >= 256 KB that went to the system


def keep_freed_memory(enable: bool = True, max_cached_bytes: int = DEFAULT_MAX_CACHED_BYTES) -> bool:
    """Install (enable=True) or remove the caching CPU allocator. Returns whether it is installed
    afterwards. Removing it returns the cached blocks to the system; tensors allocated meanwhile
    stay valid."""
    if max_cached_bytes < 0:
        raise ValueError(f"keep_freed_memory: max_cached_bytes must be >= 0, got {max_cached_bytes}")
    return _C._cpu_block_cache(bool(enable), int(max_cached_bytes))


def keeps_freed_memory() -> bool:
    """Whether the caching CPU allocator is installed."""
    return cache_stats().installed


def cache_stats() -> CacheStats:
    """What the caching CPU allocator holds and how often it was used."""
    return CacheStats(*_C._cpu_block_cache_stats())


def release_cached_memory() -> None:
    """Return every block the cache holds free to the system (the allocator stays installed)."""
    _C._release_cpu_block_cache()
