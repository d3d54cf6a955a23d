"""cnnfast.memory: the block cache hands freed large blocks back without page faults, leaves small
ones to c10, respects its cap, uninstalls cleanly; optimize() installs it only when asked (the
default), says so, and never changes what the user chose (the cap, or leaving it out)."""

import resource
import sys

import pytest
import torch

import cnnfast
from cnnfast import memory
from tests._helpers import run_in_threads

MB = 1 << 20


@pytest.fixture
def user_choice():
    """Restores the process's block cache, its cap and the user's recorded choice afterwards."""
    before = memory.block_cache_stats()
    choice = memory._user_choice
    yield
    if before.installed:
        memory.install_block_cache(before.max_cached_bytes)
    else:
        memory.uninstall_block_cache()
    memory._user_choice = choice


@pytest.fixture
def installed(user_choice):
    assert memory.install_block_cache(memory.DEFAULT_MAX_CACHED_BYTES)
    memory.release_block_cache()  # earlier tests may have filled it
    yield


def _touch(nbytes):
    t = torch.empty(nbytes // 4)
    t.fill_(1.0)  # every page
    return t.data_ptr()


def _freed_block(nbytes):
    """The address of an nbytes block made and freed with nothing else cached."""
    memory.release_block_cache()
    block = torch.empty(nbytes // 4)
    ptr = block.data_ptr()
    del block
    return ptr


def test_freed_large_block_is_reused_without_page_faults(installed):
    first = _touch(96 * MB)  # above glibc's largest adaptive mmap threshold (32 MB)
    before_faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    before = memory.block_cache_stats()
    second = _touch(96 * MB)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before_faults
    after = memory.block_cache_stats()
    assert second == first
    assert after.hits == before.hits + 1
    # Without the cache, each round maps 24576 fresh pages (measured); with it, none.
    assert faults < 100


def test_values_are_kept_and_blocks_do_not_alias(installed):
    a = torch.full((2 * MB // 4,), 1.0)
    b = torch.full((2 * MB // 4,), 2.0)
    assert a.data_ptr() != b.data_ptr()
    assert bool((a == 1).all()) and bool((b == 2).all())
    del a
    c = torch.full((2 * MB // 4,), 3.0)  # may take a's block
    assert bool((b == 2).all()) and bool((c == 3).all())


def test_mid_size_blocks_are_reused(installed):
    # 256 KB - 1 MB: where glibc sometimes trims or maps afresh (MobileNetV3's batch-1 activations).
    memory.release_block_cache()
    first = torch.empty(300 * 1024 // 4)
    ptr = first.data_ptr()
    before = memory.block_cache_stats()
    del first
    second = torch.empty(300 * 1024 // 4)
    assert second.data_ptr() == ptr
    assert memory.block_cache_stats().hits == before.hits + 1


def test_a_recently_freed_block_serves_a_request_down_to_half_its_size(installed):
    # The block just freed is still in cache: a smaller tensor written there reads no cold memory.
    ptr = _freed_block(MB)
    before = memory.block_cache_stats()
    second = torch.full((600 * 1024 // 4,), 7.0)
    after = memory.block_cache_stats()
    assert second.data_ptr() == ptr
    assert (after.hits, after.cached_bytes) == (before.hits + 1, 0)
    del second
    assert memory.block_cache_stats().cached_bytes == MB  # the block's own size goes back


def test_a_block_over_twice_the_request_is_left(installed):
    ptr = _freed_block(MB)
    before = memory.block_cache_stats()
    second = torch.empty(300 * 1024 // 4)  # 320 KB class: a 1 MB block would leave 70% idle
    after = memory.block_cache_stats()
    assert second.data_ptr() != ptr
    assert (after.misses, after.cached_bytes) == (before.misses + 1, MB)


def test_the_most_recently_freed_fitting_block_goes_first(installed):
    memory.release_block_cache()
    a = torch.empty(MB // 4)
    b = torch.empty(768 * 1024 // 4)
    pa, pb = a.data_ptr(), b.data_ptr()
    del a
    del b  # freed last
    first = torch.empty(700 * 1024 // 4)
    second = torch.empty(700 * 1024 // 4)
    assert (first.data_ptr(), second.data_ptr()) == (pb, pa)


def test_an_older_block_of_the_same_size_is_still_reused(installed):
    # Out of the recent window, a block is still found by its size class.
    ptr = _freed_block(512 * 1024)
    newer = [torch.empty(2 * MB // 4) for _ in range(20)]
    del newer  # 20 later frees push it out of the last 16
    before = memory.block_cache_stats()
    again = torch.empty(512 * 1024 // 4)
    assert again.data_ptr() == ptr
    assert memory.block_cache_stats().hits == before.hits + 1


def test_small_blocks_are_not_cached(installed):
    memory.release_block_cache()
    before = memory.block_cache_stats()
    for _ in range(10):
        torch.empty(1000)
    after = memory.block_cache_stats()
    assert (after.hits, after.misses, after.cached_bytes) == (before.hits, before.misses, 0)


def test_cap_and_release(installed):
    memory.install_block_cache(max_cached_bytes=5 * MB)
    blocks = [torch.empty(2 * MB // 4) for _ in range(3)]
    del blocks  # two 2 MB blocks fit under a 5 MB cap; the third flushes them and stays
    assert memory.block_cache_stats().cached_bytes == 2 * MB
    big = torch.empty(8 * MB // 4)
    del big  # larger than the cap: not cached, and what is cached stays
    assert memory.block_cache_stats().cached_bytes == 2 * MB
    memory.release_block_cache()
    assert memory.block_cache_stats().cached_bytes == 0


def test_uninstall_keeps_existing_tensors_valid(installed):
    t = torch.full((4 * MB // 4,), 5.0)
    memory.uninstall_block_cache()
    assert not memory.block_cache_stats().installed
    assert memory.block_cache_stats().cached_bytes == 0
    assert bool((t == 5).all())
    del t  # freed through the cache's deleter after uninstalling: straight to the system
    assert memory.block_cache_stats().cached_bytes == 0


def test_profiler_still_sees_allocations(installed):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        t = torch.ones(4 * MB // 4)  # 4 MB: through the cache
        s = torch.ones(1000)  # 4 KB: through c10's allocator as before
        del t, s
    ones = [e for e in prof.key_averages() if e.key == "aten::empty"]
    assert ones and max(e.cpu_memory_usage for e in ones) >= 4 * MB


@pytest.mark.parametrize("size", [1000, 2 * MB // 4])
def test_raw_buffers_cross_the_install_boundary(installed, size):
    # oneDNN tensors (to_mkldnn, prepacked weights) are freed by ideep through the CPU allocator
    # current at free time: blocks from before the install come to this allocator's deleter,
    # and blocks from while it is installed may be freed after it is removed.
    memory.uninstall_block_cache()
    before = torch.randn(size).to_mkldnn()
    assert memory.install_block_cache()
    during = torch.randn(size).to_mkldnn()
    del before
    memory.uninstall_block_cache()
    assert torch.equal(during.to_dense(), during.to_dense())
    del during
    assert memory.install_block_cache()
    again = torch.randn(size).to_mkldnn()
    del again


def test_bad_cap_is_a_clear_error():
    with pytest.raises(ValueError, match="max_cached_bytes must be >= 0"):
        memory.install_block_cache(max_cached_bytes=-1)


def _model():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU()).eval()


def test_optimize_installs_it_only_when_asked(user_choice):
    memory.uninstall_block_cache()
    memory._user_choice = None  # as in a fresh process
    rep = cnnfast.report(cnnfast.optimize(_model(), block_cache=False))
    assert not memory.block_cache_stats().installed
    assert not any("block cache" in n for n in rep.notes)
    rep = cnnfast.report(cnnfast.optimize(_model()))
    assert memory.block_cache_stats().installed
    assert any("block cache installed (process-wide" in n for n in rep.notes)


def test_optimize_keeps_the_users_cap(user_choice):
    assert memory.install_block_cache(max_cached_bytes=7 * MB)
    rep = cnnfast.report(cnnfast.optimize(_model()))
    assert memory.block_cache_stats().max_cached_bytes == 7 * MB
    assert any("block cache in use" in n for n in rep.notes)


def test_optimize_respects_an_uninstall(user_choice):
    memory.uninstall_block_cache()
    rep = cnnfast.report(cnnfast.optimize(_model()))
    assert not memory.block_cache_stats().installed
    assert any("uninstall_block_cache() was called" in n for n in rep.notes)


def test_install_is_thread_safe(user_choice):
    # Installs and uninstalls racing from several threads leave one consistent state: the cache
    # installed exactly when the last call says so, and c10's allocator usable throughout.
    errors = []

    def flip(i):
        try:
            for j in range(200):
                if (i + j) % 2:
                    memory.install_block_cache()
                else:
                    memory.uninstall_block_cache()
                torch.empty(300 * 1024 // 4).fill_(1.0)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    run_in_threads(flip)
    assert not errors
    assert memory.install_block_cache()
    assert memory.block_cache_stats().installed
    memory.uninstall_block_cache()
    assert not memory.block_cache_stats().installed
