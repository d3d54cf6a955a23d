// choose_tiling and the cache sizes it reads (see tiling.h).
#include "conv_engine/tiling.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>

#include "conv_engine/packed_filter.h"
#include "common/math.h"

namespace cnnfast::engine {

namespace {

int64_t cache_bytes(int name, int64_t fallback) {
  const long v = sysconf(name);  // glibc reads CPUID (Intel and AMD leaves alike)
  return v > 0 ? v : fallback;
}

// A pixel tile's gathered input (M x depth floats) takes at most half of L2, so it stays there
// while every output-channel block of the tile reads it; the rest holds the block's filter.
constexpr int64_t kMinTile = 32, kMaxTile = 512;
// A filter block's chunk takes at most this fraction of L2.
constexpr int64_t kFilterShareOfL2 = 8;
// Enough tasks that two threads' shares differ by a small fraction of one.
constexpr int64_t kTasksPerThread = 4;
// Where the output-channel blocks cannot give every thread work, pixel tiles are split to this
// many tasks per thread, none under kMinSplitTile pixels (the microkernel's M). DenseNet's
// 128->32 3x3 on 14x14 at batch 1 (one 32-wide block, 196 pixels: one tile) ran on one of two
// threads: 161 -> 90-97 us split, 7x7 47 -> 29-32 us, GoogLeNet's 24->64 3x3 on 14x14 67 -> 44-46 us
// (2 threads, AMD EPYC Zen 4, 2026-12-04); one task per thread instead was bimodal (90-160 us).
constexpr int64_t kSplitTasksPerThread = 2;
constexpr int64_t kMinSplitTile = 32;

// Output rows at least this wide, on at least this many input channels, take the row-taps loop
// (one call per row and tap, input read in place) instead of the gather loop: on 3x3 layers over
// 56x56 maps it took 0.95-1.06x oneDNN's time where the gather took 1.09-1.17x (the copy of taps x
// Cg floats per pixel). Under 28 pixels a row is too short an M for the microkernel, and under 64
// channels each call's K is: there the gather loop won (GoogLeNet's 16->32 3x3 at 28x28: 0.60x
// oneDNN's time gathered, 0.72x by rows; Inception-v3's 32->32 at 147x147: 1.03x against 1.08x).
constexpr int64_t kRowTapsMinWidth = 28;
constexpr int64_t kRowTapsMinChannels = 64;
// Strided filters whose rows are too short for the row-taps loop run on their stride phases
// (run_stride_phases) from this many input channels; with fewer the gather loop's copy is small
// and it stayed ahead. Alone against the loops they replace, alternated call by call (Intel Xeon, 2
// threads, 2026-12-06): 3x3 stride 2 at batch 1, 128 -> 256 on 28x28 0.91x, 192 -> 320 on 17x17 0.91x,
// 256 -> 256 on 28x28 0.88x, 288 -> 384 on 35x35 0.85x, 512 -> 512 on 14x14 0.93x, 96 -> 96 and
// 192 -> 192 level; 32 -> 64 on 56x56 1.06x (kept gathered); the row-taps loop kept 128 -> 128 on
// 56x56 (phases 1.08-1.14x its time).
constexpr int64_t kPhasesMinChannels = 64;
// Output rows per row-taps task: the block's filter is read from L2 once per row anyway; more
// rows per task only coarsen the split.
constexpr int64_t kMaxRowTile = 8;

// Up to this many tasks per thread, the pixel (or row) tiles are recut so that the threads' shares
// come out even: at::parallel_for hands each thread a contiguous run of ceil(tasks / threads)
// tasks, so 7 tiles on 2 threads gave one thread 4/7 of the work (ResNet-50's 256->64 1x1 on
// 56x56 at batch 1; 13 tiles, 7/13, on the 28x28 1x1 layers of ResNet-50, ResNeXt-50, GoogLeNet
// and DenseNet-121 at batch 8). Past it one task is a small part of a share.
constexpr int64_t kBalanceTasksPerThread = 16;

// The largest thread's share of the work over the mean, for `units` tiles of `unit` pixels (or
// rows; `total` in all, the last tile the remainder) per group, each split over n_chunks runs of
// output-channel blocks, tasks numbered as the loops do (chunk fastest, then tile, then group) and
// handed out as at::parallel_for does.
double thread_imbalance(int64_t groups, int64_t units, int64_t unit, int64_t total, int64_t blocks,
                        int64_t n_chunks, int64_t threads) {
  const int64_t tasks = groups * units * n_chunks, per_chunk = ceil_div(blocks, n_chunks);
  const int64_t used = std::min(threads, tasks), run = ceil_div(tasks, used);
  int64_t worst = 0, sum = 0;
  for (int64_t first = 0; first < tasks; first += run) {
    int64_t share = 0;
    for (int64_t task = first; task < std::min(tasks, first + run); ++task) {
      const int64_t chunk = task % n_chunks, u = task / n_chunks % units;
      const int64_t width = std::max<int64_t>(0, std::min(blocks, (chunk + 1) * per_chunk) - chunk * per_chunk);
      share += width * std::max<int64_t>(0, std::min(unit, total - u * unit));
    }
    worst = std::max(worst, share);
    sum += share;
  }
  return sum > 0 ? static_cast<double>(worst) * threads / sum : 1.0;
}

// Recuts `total` pixels (or rows) into tiles of `unit` into at least as many tiles (the count is
// ceil(total / unit) throughout), no smaller than `min_unit` unless already so, choosing the most
// even split over the threads (fewest tiles among equals). Pixel tiles only where each task spans
// every output-channel block (n_chunks == 1): where the threads split the blocks, cutting the
// pixels too would make each read the whole filter. Runs of rows (`rows`: the row, column and
// phase loops) also where they are split over blocks: the 104 output rows of a 256 -> 256 3x3
// stride 2 on 28x28 at batch 8, in runs of 24 x 2 chunks, gave one thread 58% of the work.
void balance_tiles(int64_t groups, int64_t total, int64_t blocks, int64_t n_chunks, int64_t threads,
                   int64_t min_unit, int64_t& unit, bool rows = false) {
  const int64_t first = ceil_div(total, unit);
  if ((n_chunks != 1 && !rows) || threads < 2 || groups * first * n_chunks > kBalanceTasksPerThread * threads) {
    return;
  }
  double best = thread_imbalance(groups, first, unit, total, blocks, n_chunks, threads);
  for (int64_t u = first + 1; u <= 2 * first && best > 1.0; ++u) {
    const int64_t size = ceil_div(total, u);
    if (size < min_unit) break;
    const double imb = thread_imbalance(groups, ceil_div(total, size), size, total, blocks, n_chunks, threads);
    if (imb < best - 1e-9) best = imb, unit = size;
  }
}

// Where the threads split the output-channel blocks of a single tile, the number of runs that
// shares the blocks most evenly (nearest the asked-for count among equals): 20 blocks in 8 runs
// of 3 gave one thread 12 (EfficientNet-B0's 320->1280 on 7x7 at batch 8), in 2 or 4 runs 10.
void balance_chunks(int64_t groups, int64_t units, int64_t unit, int64_t total, int64_t blocks, int64_t threads,
                    int64_t& n_chunks) {
  if (n_chunks < 2 || threads < 2 || groups * units * n_chunks > kBalanceTasksPerThread * threads) return;
  const int64_t asked = n_chunks;
  double best = thread_imbalance(groups, units, unit, total, blocks, n_chunks, threads);
  for (int64_t n = 2; n <= blocks; ++n) {
    const double imb = thread_imbalance(groups, units, unit, total, blocks, n, threads);
    if (imb < best - 1e-9 || (imb < best + 1e-9 && std::abs(n - asked) < std::abs(n_chunks - asked))) {
      best = imb, n_chunks = n;
    }
  }
}

}  // namespace

int64_t l1_cache_bytes() {
  static const int64_t bytes = cache_bytes(_SC_LEVEL1_DCACHE_SIZE, 32 * 1024);
  return bytes;
}

int64_t l2_cache_bytes() {
  static const int64_t bytes = cache_bytes(_SC_LEVEL2_CACHE_SIZE, 1024 * 1024);
  return bytes;
}

// The level-3 size Linux reports for cpu0 (sysfs, "32768K"), or 0. Read before sysconf: glibc's
// L3 on an AMD EPYC guest was the host's total (384 MB), where sysfs and lscpu gave the 32 MB
// this VM's cores share.
int64_t sysfs_l3_bytes() {
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream level(dir + "level"), size(dir + "size");
    int lv = 0;
    int64_t kb = 0;
    std::string unit;
    if (!(level >> lv) || lv != 3 || !(size >> kb >> unit)) continue;
    return unit == "M" ? kb * 1024 * 1024 : kb * 1024;
  }
  return 0;
}

int64_t l3_cache_bytes() {
  static const int64_t bytes = [] {
    const int64_t sysfs = sysfs_l3_bytes();
    return sysfs > 0 ? sysfs : cache_bytes(_SC_LEVEL3_CACHE_SIZE, 16 * 1024 * 1024);
  }();
  return bytes;
}

bool column_taps_apply(const ConvGeometry& geo) {
  return geo.groups == 1 && geo.r > 1 && geo.s == 1 && geo.pw == 0 && geo.sw == 1 && geo.sh == 1;
}

bool stride_phases_apply(const ConvGeometry& geo) {
  return geo.groups == 1 && (geo.sh > 1 || geo.sw > 1) && geo.taps() > 1 && geo.wo < kRowTapsMinWidth &&
         geo.cg() >= kPhasesMinChannels;
}

bool row_filter_transposes(const ConvGeometry& geo) { return geo.r == 1 && column_taps_apply(transposed(geo)); }

ConvGeometry transposed(const ConvGeometry& geo) {
  ConvGeometry t = geo;
  std::swap(t.h, t.w), std::swap(t.r, t.s), std::swap(t.sh, t.sw), std::swap(t.ph, t.pw);
  std::swap(t.dh, t.dw), std::swap(t.ho, t.wo);
  return t;
}

Tiling choose_tiling(const ConvGeometry& geo, int64_t threads) {
  if (row_filter_transposes(geo)) {
    Tiling t = choose_tiling(transposed(geo), threads);
    t.transposed = true;
    return t;
  }
  Tiling t;
  // The microkernel walks its B operand (k rows of a 64-wide filter block) once per few output
  // rows, so B must stay in L2: 512x512 3x3 layers (4608 rows, 1.2 MB per block) ran 2.1-3x
  // slower than oneDNN unchunked. Chunks accumulate into the tile (add_C), equal in size.
  const int64_t k_max = std::max<int64_t>(kLanes, l2_cache_bytes() / kFilterShareOfL2 / (kBlockWidth * 4));
  const int64_t k_chunks = ceil_div(geo.depth(), k_max);
  t.k_chunk = ceil_div(geo.depth(), k_chunks);
  // M: the A rows one call reads (M x k_chunk) take at most half of L2. Sizing by the whole depth
  // instead gave 32-row tiles on 512-channel 3x3 layers, re-streaming the filter per 32 pixels
  // (1.3x oneDNN's time on VGG-16's 512x512 layers).
  const int64_t pixels = geo.n * geo.pixels();  // tiles span images
  const int64_t fit = l2_cache_bytes() / 2 / (t.k_chunk * static_cast<int64_t>(sizeof(float)));
  const int64_t m_max = std::clamp(fit, kMinTile, kMaxTile);
  t.m_tiles = ceil_div(pixels, m_max);
  t.m_tile = ceil_div(pixels, t.m_tiles);  // equal tiles, none a sliver
  t.blocks = ceil_div(padded_width(geo.kg()), kBlockWidth);
  const int64_t want = kTasksPerThread * threads;
  // Column filters (R x 1, stride 1, no column padding: Inception-v3's 7x1 and 3x1) and strided
  // filters on their stride phases: the input rows a run of output rows reads are one run of
  // pixels per tap (run_column_taps, run_stride_phases), so M is the run's pixels (a phase row
  // is phase_w pixels, the output row and the columns past it that no one stores).
  t.column_taps = column_taps_apply(geo);
  t.phases = stride_phases_apply(geo);  // strided: never a column filter
  if (t.column_taps || t.phases) {
    const int64_t rows = geo.n * geo.ho, width = t.phases ? geo.phase_w() : geo.wo;
    // Where the output-channel blocks share out evenly and the whole batch fits one tile (the 3x1
    // and 1x3 384 -> 384 on 8x8 at batch 1), the threads split the blocks over one run of all
    // rows, so each reads only its share of the filter: 0.90x warm, 0.79x with the filter cold, the
    // model 0.987x, against both threads taking half the rows and the whole filter.
    const bool split_blocks = t.blocks % threads == 0 && rows * width <= m_max;
    t.row_tile = split_blocks ? rows : std::clamp<int64_t>(std::min(m_max / width, ceil_div(rows, threads)), 1, rows);
    const int64_t base = ceil_div(rows, t.row_tile);
    if (base < want) t.n_chunks = std::min(t.blocks, ceil_div(want, base));
    balance_tiles(1, rows, t.blocks, t.n_chunks, threads, 1, t.row_tile, /*rows=*/true);
    return t;
  }
  t.row_taps = geo.groups == 1 && !geo.reads_input_rows() && geo.wo >= kRowTapsMinWidth &&
               geo.cg() >= kRowTapsMinChannels;
  if (t.row_taps) {
    const int64_t rows = geo.n * geo.ho;
    t.row_tile = std::clamp<int64_t>(rows / want, 1, kMaxRowTile);
    const int64_t base = ceil_div(rows, t.row_tile);
    if (base < want) t.n_chunks = std::min(t.blocks, ceil_div(want, base));
    balance_tiles(1, rows, t.blocks, t.n_chunks, threads, 1, t.row_tile);
    return t;
  }
  const int64_t base = geo.groups * t.m_tiles;
  if (base < want) t.n_chunks = std::min(t.blocks, ceil_div(want, base));
  // Still too few tasks (a single output-channel block over a map that fits one tile): split the
  // pixels, down to kMinSplitTile per tile, or all but one thread idles.
  if (geo.groups * t.tasks() < threads * kSplitTasksPerThread && pixels > kMinSplitTile) {
    const int64_t tiles = std::min(ceil_div(pixels, kMinSplitTile),
                                   ceil_div(threads * kSplitTasksPerThread, geo.groups * t.n_chunks));
    if (tiles > t.m_tiles) {
      t.m_tiles = tiles;
      t.m_tile = ceil_div(pixels, tiles);
      t.m_tiles = ceil_div(pixels, t.m_tile);
    }
  }
  balance_tiles(geo.groups, pixels, t.blocks, t.n_chunks, threads, kMinSplitTile, t.m_tile);
  t.m_tiles = ceil_div(pixels, t.m_tile);
  balance_chunks(geo.groups, t.m_tiles, t.m_tile, pixels, t.blocks, threads, t.n_chunks);
  return t;
}

}  // namespace cnnfast::engine
