"""How the conv engine cuts a conv into tasks (csrc/conv_engine/tiling.cpp, through
cnnfast.config.engine_tiling): the tiles cover every pixel, and where few tasks go round the threads
each thread gets an even share of the work. at::parallel_for hands each thread a contiguous run of
ceil(tasks / threads) tasks, so 7 equal tiles on 2 threads once gave one thread 4/7 of the work.
The shares are computed here from the tiling the way the loops number their tasks (gather_loop.cpp,
row_taps_loop.cpp, stride_phases_loop.cpp), independently of the C++ rule that chose it."""

import math

import pytest

import cnnfast
from cnnfast import config

pytestmark = pytest.mark.skipif(not cnnfast.build_info()["conv_engine"],
                                reason="this torch or CPU has no fp32 brgemm microkernel")


def _out(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def shares(x_shape, w_shape, stride, threads, groups=1):
    """Each thread's work (pixels or rows x output-channel blocks) under the tiling the engine picks."""
    t = config.engine_tiling(x_shape, w_shape, stride, 0, 1, groups, threads=threads)
    n, _, h, w = x_shape
    ho, wo = _out(h, w_shape[2], stride, 0), _out(w, w_shape[3], stride, 0)
    if t["transposed"]:  # rows of the transposed map: the output's columns
        total, unit = n * wo, t["row_tile"]
    elif t["row_taps"] or t["column_taps"] or t["phases"]:
        total, unit = n * ho, t["row_tile"]
    else:
        total, unit = n * ho * wo, t["m_tile"]
    units = math.ceil(total / unit)
    assert t["row_taps"] or t["column_taps"] or t["phases"] or units == t["m_tiles"]
    blocks, n_chunks = t["blocks"], t["n_chunks"]
    per_chunk = math.ceil(blocks / n_chunks)
    work = []
    for task in range(groups * units * n_chunks):
        chunk, u = task % n_chunks, task // n_chunks % units
        width = max(0, min(blocks, (chunk + 1) * per_chunk) - chunk * per_chunk)
        work.append(width * max(0, min(unit, total - u * unit)))
    assert sum(work) == groups * blocks * total  # every pixel and block exactly once
    used = min(threads, len(work))
    run = math.ceil(len(work) / used)
    return t, [sum(work[i:i + run]) for i in range(0, len(work), run)]


def _ids(v):
    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)


def imbalance(parts):
    return max(parts) * len(parts) / sum(parts)


# Layers whose tasks came out uneven on 2 threads before the tiles were recut (tiling.cpp says which).
UNEVEN = [
    ((1, 256, 56, 56), (64, 256, 1, 1), 1),     # ResNet-50 batch 1: 7 tiles of 448 pixels
    ((8, 512, 28, 28), (128, 512, 1, 1), 1),    # ResNet-50 batch 8: 13 tiles of 483
    ((8, 256, 28, 28), (512, 256, 1, 1), 1),    # ResNeXt-50 batch 8, two blocks per tile
    ((1, 256, 56, 56), (512, 256, 1, 1), 2),    # stride-2 projection, row taps: 28 rows in tiles of 3
    ((8, 320, 7, 7), (1280, 320, 1, 1), 1),     # EfficientNet-B0 batch 8: 20 blocks in 8 runs of 3
    ((1, 32, 3, 3), (1280, 32, 1, 1), 1),       # the same split on a tiny map
    ((3, 384, 8, 8), (384, 384, 3, 1), 1),      # 3x1 by runs of rows, crossing images
    ((3, 384, 8, 8), (384, 384, 1, 3), 1),      # 1x3: the same on the transposed map
    ((1, 192, 17, 17), (192, 192, 3, 3), 2),    # on stride phases: 8 rows x 3 blocks
    ((8, 256, 28, 28), (256, 256, 3, 3), 2),    # 13 output rows per image, runs across images
]


@pytest.mark.parametrize("x_shape,w_shape,stride", UNEVEN, ids=_ids)
def test_two_threads_get_even_shares(x_shape, w_shape, stride):
    _, parts = shares(x_shape, w_shape, stride, threads=2)
    assert len(parts) == 2
    assert imbalance(parts) <= 1.01, parts


@pytest.mark.parametrize("threads", [3, 4])
@pytest.mark.parametrize("x_shape,w_shape,stride", UNEVEN[:4], ids=_ids)
def test_more_threads_stay_near_even(x_shape, w_shape, stride, threads):
    _, parts = shares(x_shape, w_shape, stride, threads=threads)
    assert imbalance(parts) <= 1.1, parts


def test_tiles_are_not_cut_below_the_split_minimum():
    # 64 pixels over 5 blocks: 3 + 2 blocks per thread cannot be evened by cutting pixels without
    # making both threads read the whole filter, so the blocks stay split and the tile whole.
    t, _ = shares((1, 1280, 8, 8), (320, 1280, 1, 1), 1, threads=2)
    assert t["m_tiles"] == 1 and t["n_chunks"] >= 2
    t, _ = shares((1, 256, 56, 56), (64, 256, 1, 1), 1, threads=2)
    assert t["m_tile"] >= 32


def test_column_filters_run_by_runs_of_rows():
    # R x 1 at stride 1 with no column padding: one call per tap over whole rows (row_taps_loop.cpp);
    # 1 x S with no row padding: the same on the transposed map.
    def tiling(w_shape, stride=1, padding=0, x_shape=(1, 192, 17, 17)):
        return config.engine_tiling(x_shape, w_shape, stride, padding, 1, 1, threads=2)

    t = tiling((192, 192, 7, 1), padding=(3, 0))
    assert t["column_taps"] and not t["row_taps"] and 1 <= t["row_tile"] <= 9
    # 384 -> 384 on 8x8: six blocks share out evenly, so each thread takes three over all 8 rows
    # (and reads only its half of the filter) instead of half the rows over all six.
    t = tiling((384, 384, 3, 1), padding=(1, 0), x_shape=(1, 384, 8, 8))
    assert t["column_taps"] and t["row_tile"] == 8 and t["n_chunks"] == 6
    row = tiling((192, 192, 1, 7), padding=(0, 3))  # a row filter: the transposed map's column filter
    assert row["transposed"] and row["column_taps"] and not tiling((192, 192, 7, 1), padding=(3, 0))["transposed"]
    assert not tiling((192, 192, 1, 7), stride=(1, 2), padding=(0, 3))["transposed"]
    assert not tiling((192, 192, 1, 7), padding=(1, 3))["transposed"]  # padded rows
    assert not tiling((192, 192, 7, 1), stride=2, padding=(3, 0))["column_taps"]
    assert not tiling((192, 192, 7, 1), padding=(3, 1))["column_taps"]  # padded columns
    assert not tiling((192, 192, 3, 3), padding=1)["column_taps"]
    # 11 output rows in runs of 6 and 5, each over all three blocks: within a run of even.
    _, parts = shares((1, 192, 17, 17), (192, 192, 7, 1), 1, threads=2)
    assert imbalance(parts) <= 1.1, parts


def test_strided_filters_with_short_rows_run_on_their_stride_phases():
    # stride_phases_loop.cpp: rows under 28 output pixels, from 64 input channels, one group.
    def tiling(w_shape, x_shape, stride=2, padding=1, groups=1):
        return config.engine_tiling(x_shape, w_shape, stride, padding, 1, groups, threads=2)

    t = tiling((512, 512, 3, 3), (1, 512, 14, 14))  # ResNet's 14 -> 7
    assert t["phases"] and not (t["row_taps"] or t["column_taps"] or t["transposed"])
    # Eight blocks share out evenly over all 7 rows: each thread reads half the filter.
    assert t["row_tile"] == 7 and t["n_chunks"] == 8
    assert tiling((384, 288, 3, 3), (1, 288, 35, 35), padding=0)["phases"]  # Inception-v3's 35 -> 17
    assert tiling((64, 24, 7, 7), (1, 64, 23, 21), stride=4, padding=3)["phases"]
    assert not tiling((128, 128, 3, 3), (1, 128, 56, 56))["phases"]  # 28-pixel rows: the row-taps loop
    assert tiling((128, 128, 3, 3), (1, 128, 56, 56))["row_taps"]
    assert not tiling((64, 32, 3, 3), (1, 32, 28, 28))["phases"]  # 32 input channels: gathered
    assert not tiling((512, 16, 3, 3), (1, 512, 14, 14), groups=32)["phases"]
    assert not tiling((256, 128, 1, 1), (1, 128, 28, 28), padding=0)["phases"]  # 1x1: one phase, gathered
    assert not tiling((256, 256, 3, 3), (1, 256, 14, 14), stride=1)["phases"]


def test_threads_must_be_positive():
    with pytest.raises(ValueError, match="threads"):
        config.engine_tiling((1, 16, 8, 8), (16, 16, 1, 1), threads=0)
