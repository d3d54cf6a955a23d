// 1x1 convolution (the expand/project layers of MobileNet, ShuffleNet, EfficientNet, RegNet)
// computed directly in channels_last, where it is a matrix product: out[pixel, :] =
// x[pixel, :] @ W^T. oneDNN runs the large ones near this CPU's peak, but reached through ATen
// each call costs ~20 us before any arithmetic (measured: 22 us for a conv on a 4 x 4 map), and
// MobileNetV3 has ~45 such convs of 1-8 MFLOP at batch 1. Here the weight is packed once into
// panels of 64 output channels (Cin rows of 4 vectors), 4-8 pixels' inputs are broadcast against
// a panel's vectors into 16-24 vector accumulators, and bias, residual and activation are applied
// in the store. Built per x86-64 level on the level's own vector width (pointwise_pixels_v4 and
// friends): with AVX2's 16 registers, 6 pixels x 16 channels at a time.
#include "ops/conv2d_bias_act/pointwise_conv_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/channel_sums.h"
#include "common/cpu_vendor.h"
#include "common/cpu_levels.h"
#include "common/memory_format.h"
#include "common/prepacked_weights.h"
#include "common/vec16_cpu.h"
#include "common/math.h"
#include "conv_engine/tiling.h"
#include "ops/conv2d_bias_act/direct_conv_cpu.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")  // one FMA per multiply-add in the AVX builds
#endif

namespace cnnfast {

namespace {

using vec16::kLanes;

constexpr int64_t kVecs = 4;                  // vectors per panel
constexpr int64_t kPanel = kVecs * kLanes;    // output channels per packed panel
// A last panel of one vector joins the panel before it (5 vectors, 20 accumulators over 4 pixels):
// alone it was a run of 4 FMA chains over each block of 4 pixels, ~20% of the time of a 24 -> 72
// layer for a fifth of its arithmetic (perf, AMD EPYC Zen 5).
constexpr int64_t kMaxPanelVecs = kVecs + 1;
constexpr int64_t kAccRow = kMaxPanelVecs * kLanes;  // floats per pixel in the accumulator tile
// Where it pays (benchmarks/ops/bench_pointwise_conv.py, 2 threads, against oneDNN through ATen):
// 0.47-0.8x of oneDNN's time for MobileNet/ShuffleNet/EfficientNet-sized layers at batch 1
// (2-15M multiply-adds): there oneDNN's ~20 us per call dominates. Above that it depends on the
// weight: while it stays in L2 (up to 128K floats, 512 KB) this kernel was as fast or faster up to
// ~160M multiply-adds (layers of MobileNetV3, ShuffleNet, EfficientNet, RegNet, ResNet-50 and
// GoogLeNet at batch 1 and 8: median 0.95x, 0.63-0.69x where oneDNN's ReLU needs its own pass
// over a 112 x 112 map), but 1.05-1.34x slower with ResNet-50's 1-4 MB weights (each 4-pixel block
// re-reads the panel from L3) and 1.1x on 400M+ maps, where oneDNN's blocking reuses loaded
// inputs more. Fewer than 24 output channels leave too few accumulators (1.27x at 16).
// Against the conv engine, which took the larger 1x1 layers from 2026-12-03: with at least 256
// output pixels per call this kernel was faster whatever the weight (every 1x1 stride-1 layer of
// the lecture models at batch 1 and 8, 2 threads, AMD EPYC Zen 4, 2026-12-04,
// `benchmarks/conv_engine_layers.py --one-by-one`, results/cpu_pointwise_vs_engine.md): the 72
// layer-batches this clause moves from the engine take 0.90x the time in total, median 0.95x,
// 0.56-1.05x (ResNet/ResNeXt-50 at batch 8, Inception-v3's 17x17 layers), and 0.87x of oneDNN's
// (0.57-0.97x), the fallback where the engine is absent. Below 256 pixels, on
// 7x7 and 14x14 maps with 1-4 MB weights, the engine stays ahead (up to 1.12x) and the L2 rule decides.
constexpr int64_t kPointwiseMaxMacs = 32 * 1000 * 1000;
constexpr int64_t kPointwiseMinPixelsAnyWeight = 256;
constexpr int64_t kPointwiseL2Macs = 160 * 1000 * 1000;
constexpr int64_t kPointwiseL2Weight = 128 * 1024;
constexpr int64_t kPointwiseL2MinCout = 24;

struct Shape {
  int64_t cin, cout, vectors;  // vectors: ceil(cout / 16)
  int64_t out_pitch;  // floats between output pixels: cout, or a concat buffer's channel count
  int64_t panels;     // packed panels: 4 vectors each, the last 1-5 (see panel_count)
  // out has room for whole vectors at every pixel (out_pitch >= vectors * 16, lanes past Cout
  // nobody's): the fused 1x1 + depthwise op's ring rows. Stores never go lane by lane.
  bool whole_vectors = false;
  int64_t panel_of(int64_t v) const { return std::min(v / kVecs, panels - 1); }
  int64_t panel_end(int64_t j) const { return j + 1 == panels ? vectors : (j + 1) * kVecs; }  // in vectors
};

// Panels for `vectors` output vectors: 4 each, a last one of 1-4, or of 5 where one vector is left.
int64_t panel_count(int64_t vectors) {
  return vectors > kVecs && vectors % kVecs == 1 ? vectors / kVecs : ceil_div(vectors, kVecs);
}

// Pixels per register block for a run of V output vectors of one panel: at least 8 independent
// accumulator chains, which Zen 5's two 512-bit FMA pipes of 4 cycles' latency need (one vector
// over 4 pixels, as before, ran 16 -> 16 on 112x112 at 0.85-0.9x the speed of 8 alone), and at
// most 24 accumulators, so the V weight vectors and a broadcast still fit 32 vector registers.
// One vector over 12 pixels was as fast alone but 1.2x slower in MobileNetV3 (Zen 5, 2026-12-05).
// With 8-lane vectors (AVX2: 16 registers) every run takes blocks of 6 pixels, computed 16 output
// channels at a time (panel_block): 12 accumulators, the classic 6 x 16 shape; blocks of 4 and 8
// (8 accumulators each) left the AVX2 build at 1.3-1.5x the AVX-512 build's time on Zen 4.
template <int V, int L>
constexpr int kBlockPixels = L == 8 ? 6 : V == 1 ? 8 : V == 2 ? 8 : V == 3 ? 6 : 4;
constexpr int64_t kMaxBlockPixels = 8;
// kBlockPixels for a run of v vectors known only at run time.
constexpr int64_t block_pixels(int64_t v, int64_t lanes) { return lanes == 8 ? 6 : v <= 2 ? 8 : v == 3 ? 6 : 4; }
static_assert(block_pixels(1, 16) == kBlockPixels<1, 16> && block_pixels(3, 16) == kBlockPixels<3, 16> &&
              block_pixels(5, 16) == kBlockPixels<5, 16> && block_pixels(2, 8) == kBlockPixels<2, 8>);
constexpr int64_t kMaxTilePixels = 256;  // see tile_pixels
static_assert(kBlockPixels<kMaxPanelVecs, 16> * kMaxPanelVecs <= 24, "accumulators must fit the registers");

// acc[i * kAccRow + c] = init[i * init_step + c] + sum_k x[i, k] * w[k, c] for NP pixels (rows of
// x, ldx apart), k < k_len, and NV vectors of W's lanes (w's rows ldw floats apart). init is the
// bias (init_step 0) or the partial sums of earlier rows of the weight. The accumulators go out
// through L1 and store_row rather than straight from registers: 16 inlined stores, each with every
// activation's code, measured 1.05-1.24x slower than this (i-cache).
template <int NP, int NV, class W>
inline __attribute__((always_inline)) void block_fma(const float* __restrict__ x, int64_t ldx,
                                                     const float* __restrict__ w, int64_t ldw, const float* init,
                                                     int64_t init_step, int64_t k_len, float* acc) {  // acc may be init
  constexpr int L = vec::kLanesOf<W>;
  // Every loop over NP and NV unrolled, so a[][] has constant indices and stays in registers: in
  // the AVX2 build, without the pragmas, GCC kept a[][] on the stack and copied it to acc 16
  // bytes at a time after every block.
  W a[NP][NV];
#pragma GCC unroll 8
  for (int i = 0; i < NP; ++i)
#pragma GCC unroll 5
    for (int q = 0; q < NV; ++q) a[i][q] = vec::load<W>(init + i * init_step + q * L);
  for (int64_t k = 0; k < k_len; ++k) {
    W wv[NV];
#pragma GCC unroll 5
    for (int q = 0; q < NV; ++q) wv[q] = vec::load<W>(w + k * ldw + q * L);
#pragma GCC unroll 8
    for (int i = 0; i < NP; ++i) {
      const float xs = x[i * ldx + k];
#pragma GCC unroll 5
      for (int q = 0; q < NV; ++q) a[i][q] += xs * wv[q];
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < NP; ++i)
#pragma GCC unroll 5
    for (int q = 0; q < NV; ++q) vec::store(acc + i * kAccRow + q * L, a[i][q]);
}

// Pixels in one register group of a 16-channel slice, on levels whose 16 vector registers cannot
// hold a block's NP x V 16-lane accumulators: with AVX2 the whole block (at most kBlockPixels, 6:
// 12 accumulators of 8 lanes); with 4-lane vectors 2 pixels (8 accumulators).
template <int NP, int L>
constexpr int kSlicePixels = L == 8 ? NP : NP < 2 ? NP : 2;

// The block of NP pixels x V 16-lane vectors of one panel (kBlockPixels and its remainders),
// computed on W's lanes: in one pass with 16 lanes (32 registers); with fewer lanes, 16 output
// channels at a time over groups of kSlicePixels pixels, each group's accumulators in registers.
// Either way acc holds the same sums (same order of additions per output: k ascending).
template <int NP, int V, class W>
inline __attribute__((always_inline)) void panel_block(const float* __restrict__ x, int64_t ldx,
                                                       const float* __restrict__ w, int64_t ldw,
                                                       const float* init, int64_t init_step, int64_t k_len,
                                                       float* acc) {  // acc may be init
  constexpr int L = vec::kLanesOf<W>, per_slice = kLanes / L;
  if constexpr (per_slice == 1) {
    block_fma<NP, V, W>(x, ldx, w, ldw, init, init_step, k_len, acc);
  } else {
    constexpr int G = kSlicePixels<NP, L>;
    static_assert(NP % G == 0 && G * per_slice <= 12, "a slice group's accumulators must fit 16 registers");
    for (int q = 0; q < V; ++q) {
      for (int i0 = 0; i0 < NP; i0 += G) {
        block_fma<G, per_slice, W>(x + i0 * ldx, ldx, w + q * kLanes, ldw, init + i0 * init_step + q * kLanes,
                                   init_step, k_len, acc + i0 * kAccRow + q * kLanes);
      }
    }
  }
}

// The next block of at most `left` pixels (kBlockPixels, or 4/2/1 for a remainder) from x
// times V output vectors (w's rows ldw floats apart) into acc; returns its pixel count.
template <int V, class W>
inline __attribute__((always_inline)) int64_t next_block(const float* __restrict__ x, int64_t ldx,
                                                         const float* __restrict__ w, int64_t ldw, const float* init,
                                                         int64_t init_step, int64_t k_len, int64_t left,
                                                         float* acc) {
  constexpr int B = kBlockPixels<V, vec::kLanesOf<W>>;
  if (left >= B) return panel_block<B, V, W>(x, ldx, w, ldw, init, init_step, k_len, acc), B;
  if constexpr (B > 4) {
    if (left >= 4) return panel_block<4, V, W>(x, ldx, w, ldw, init, init_step, k_len, acc), 4;
  }
  if (left >= 2) return panel_block<2, V, W>(x, ldx, w, ldw, init, init_step, k_len, acc), 2;
  return panel_block<1, V, W>(x, ldx, w, ldw, init, init_step, k_len, acc), 1;
}

// next_block for the run of nv vectors (1-5) a switch picks.
template <class W>
inline __attribute__((always_inline)) int64_t next_block_of(int64_t nv, const float* __restrict__ x, int64_t ldx,
                                                            const float* __restrict__ w, int64_t ldw, const float* init,
                                                            int64_t init_step, int64_t k_len, int64_t left,
                                                            float* acc) {
  switch (nv) {
    case 5: return next_block<5, W>(x, ldx, w, ldw, init, init_step, k_len, left, acc);
    case 4: return next_block<4, W>(x, ldx, w, ldw, init, init_step, k_len, left, acc);
    case 3: return next_block<3, W>(x, ldx, w, ldw, init, init_step, k_len, left, acc);
    case 2: return next_block<2, W>(x, ldx, w, ldw, init, init_step, k_len, left, acc);
    default: return next_block<1, W>(x, ldx, w, ldw, init, init_step, k_len, left, acc);
  }
}

// Stores n finished pixels from p (acc's rows) at channels [c0, c0 + nc) with residual and
// activation. One store loop for every block size: the store inlines every activation's code, and
// a copy per block size (or the accumulators stored straight from registers) measured 1.05-1.24x
// slower (i-cache).
template <class W>
inline __attribute__((always_inline)) void store_pixels(const float* __restrict__ acc, int64_t n, int64_t p,
                                                        const float* res, float* out,  // may alias
                                                        const Shape& s, Activation act, int64_t c0, int64_t nc,
                                                        int64_t spill_end) {
  for (int64_t i = 0; i < n; ++i, ++p) {
    float* const o = out + p * s.out_pitch + c0;
    const float* const r = res ? res + p * s.cout + c0 : nullptr;
    // Whole vectors where the last one ends before pixel spill_end: lanes past Cout land on the
    // next pixels' first channels, stored later.
    if (s.whole_vectors || (p * s.cout + c0 + round_up(nc, kLanes)) <= spill_end * s.cout) {
      for (int64_t c = 0; c < nc; c += vec::kLanesOf<W>) {
        store_full_block(o + c, vec::load<W>(acc + i * kAccRow + c), r ? r + c : nullptr, act);
      }
    } else {
      store_row<W>(o, acc + i * kAccRow, r, nc, act);
    }
  }
}

// A thread's part of the packed weight, fetched into L2 a few cache lines after each pixel block,
// ahead of the blocks that read it. Where the threads split the output channels (7x7 and 14x14
// maps at batch 1) the weight arrives from L3 or memory on every call in a model, and each
// chunk's first block stalls on it with only 4 pixels' multiply-adds to hide it: RegNetY-400MF's
// 440 -> 440 1x1 layers took 1.4-1.5x their time alone in the model
// (benchmarks/results/cpu_in_model_penalty_intel.md). Fetching the stream at twice the rate the
// blocks consume it (all of it by half of the work): RegNetY-400MF batch 1 0.976-0.978x the time
// in three runs, batch 8 0.997x, 0.999-1.004x on six other models; at the consumption rate 1.005x,
// four times it 0.981x (Intel Xeon, 2 threads, 2026-12-06, alternated call by call in one process).
struct WeightStream {
  static constexpr int64_t kAhead = 2;
  const char* next = nullptr;
  const char* end = nullptr;
  int64_t lines = 0;  // cache lines fetched per step
  inline __attribute__((always_inline)) void step() {
    for (int64_t i = 0; i < lines && next < end; ++i, next += 64) __builtin_prefetch(next, 0, 2);  // into L2
  }
};

// Fetches into L1 rows [q0, q1) of a pixel-major array (pitch floats apart), nc floats each.
inline __attribute__((always_inline)) void prefetch_rows(const float* base, int64_t pitch, int64_t nc, int64_t q0,
                                                         int64_t q1) {
  for (int64_t q = q0; q < q1; ++q)
    for (int64_t c = 0; c < nc; c += kLanes) __builtin_prefetch(base + q * pitch + c, 0, 3);
}

// Pixels [p, p + np) times the nv output vectors from v, all within one panel, block by block,
// each stored with residual and activation before the next. No lambdas: one would be compiled for
// the baseline target, outside the per-level builds, and not inlined.
template <class W>
inline __attribute__((always_inline)) void pixels_times_vectors(const float* __restrict__ x,
                                                                const float* __restrict__ wpk,
                                                                const float* __restrict__ bias,
                                                                const float* res, float* out,  // may alias
                                                                const Shape& s, Activation act, int64_t p, int64_t np,
                                                                int64_t v, int64_t nv, float* __restrict__ acc,
                                                                int64_t spill_end, WeightStream* ws = nullptr) {
  const int64_t j = s.panel_of(v), c0 = v * kLanes, nc = std::min(nv * kLanes, s.cout - c0);
  // Full panels before panel j (j * kPanel channels x cin), then the vectors before v in its rows.
  const int64_t ldw = (s.panel_end(j) - j * kVecs) * kLanes;
  const float* w = wpk + j * kPanel * s.cin + (v - j * kVecs) * kLanes;
  // Within a tile (pixels outer, np > one block), the next block's residual lines are fetched
  // while this block computes: the store reads them, 4 lines per pixel a full output row apart,
  // which no hardware prefetcher follows (ResNet-50's expansions read a residual of 3-25 MB).
  const bool fetch_res = res != nullptr && ws == nullptr;
  const int64_t block = block_pixels(nv, vec::kLanesOf<W>);
  for (const int64_t end = p + np; p < end;) {
    if (fetch_res) prefetch_rows(res + c0, s.cout, nc, p + block, std::min(end, p + 2 * block));
    const int64_t n = next_block_of<W>(nv, x + p * s.cin, s.cin, w, ldw, bias + c0, 0, s.cin, end - p, acc);
    store_pixels<W>(acc, n, p, res, out, s, act, c0, nc, spill_end);
    if (ws) ws->step();
    p += n;
  }
}

// pixels_times_vectors with the panel's rows in chunks of k_chunk, every pixel through one chunk
// before the next, the partial sums in `partial` (np rows of kAccRow floats): each chunk of the
// weight is read from memory once and then from L1 by every pixel block. Unchunked, on 7x7 maps
// at batch 1 the first pixel block streamed the whole panel from memory with 4 pixels' FMAs to
// hide it, and every later block read it again from L2. Kept apart from pixels_times_vectors on
// purpose: one function for both (k_chunk = Cin when unchunked) measured 1.02x slower, median
// over 20 layer cases, up to 1.08x (Intel Xeon, 2026-12-06).
template <class W>
inline __attribute__((always_inline)) void pixels_times_vectors_chunked(
    const float* __restrict__ x, const float* __restrict__ wpk, const float* __restrict__ bias, const float* res,
    float* out, const Shape& s, Activation act, int64_t p0, int64_t np, int64_t v, int64_t nv,
    float* __restrict__ acc, float* __restrict__ partial, int64_t k_chunk, WeightStream* ws = nullptr) {
  const int64_t j = s.panel_of(v), c0 = v * kLanes, nc = std::min(nv * kLanes, s.cout - c0);
  const int64_t ldw = (s.panel_end(j) - j * kVecs) * kLanes;
  const float* w = wpk + j * kPanel * s.cin + (v - j * kVecs) * kLanes;
  for (int64_t k0 = 0; k0 < s.cin; k0 += k_chunk) {
    const int64_t kc = std::min(k_chunk, s.cin - k0);
    const bool first = k0 == 0, last = k0 + kc == s.cin;
    for (int64_t p = p0, end = p0 + np; p < end;) {
      float* const part = partial + (p - p0) * kAccRow;
      const int64_t n = next_block_of<W>(nv, x + p * s.cin + k0, s.cin, w + k0 * ldw, ldw, first ? bias + c0 : part,
                                      first ? 0 : kAccRow, kc, end - p, last ? acc : part);
      if (last) store_pixels<W>(acc, n, p, res, out, s, act, c0, nc, 0);
      if (ws) ws->step();
      p += n;
    }
  }
}

// Pixels one pass over every panel takes before the next (pixels outer): with one narrow panel
// (under 64 output channels) its register block, 8 or 6 pixels; with full panels 4, a block of
// theirs (and of a 5-vector panel), and the narrow last panel then takes blocks of 4 too. Chunks
// of 8-24 pixels there measured 1.05-1.2x slower on wide layers (112 -> 672 on 14x14, in
// EfficientNet-B0 and MobileNetV3 at batch 1): each panel then writes its 64 channels of that
// many output rows.
inline int64_t chunk_pixels(const Shape& s, int64_t lanes) { return block_pixels(std::min<int64_t>(s.vectors, 4), lanes); }

// On Intel cores, tiles too wherever the packed weight outgrows a quarter of L1: a 4-pixel chunk
// does 16 FMAs per 256 bytes of weight, and passing every panel per chunk streamed the weight from
// L2 at that rate, which Golden Cove's L2 does not sustain (64 -> 256 at 52% of one core's FMA
// peak where a single panel, read from L1, ran at 75%). Tiles keep a panel in L1 over the tile's
// blocks: alone, alternated call by call, ResNet-50's 64 -> 256 on 56x56 0.89x the time (batch 1)
// and 0.91x (batch 8), 128 -> 512 on 28x28 0.86-0.89x, EfficientNet-B0 and MobileNetV3's 112 -> 672
// and 96 -> 576 on 14x14 0.87-0.91x, 24 -> 144 and 40 -> 240 0.95-0.97x (Intel Xeon, L1d 48 KB,
// 2 threads, 2026-12-06). AMD keeps the chunks: there tiles of 8-24 pixels measured slower on the
// wide layers (above), and Zen's L2 feeds this rate.
constexpr int64_t kIntelTileL1Share = 4;

// Pixels a task takes through every panel before the next: chunk_pixels, except where the packed
// weight outgrows half of L2 (read at run time). There a pass over every panel per 4-pixel chunk
// streamed the whole weight from L3 for each 4 pixels: ResNeXt-50's 14x14 layers at batch 8
// (1-4 MB weights) ran at 0.72x the FMA rate of the peers' in the model, 1.16-1.29x the conv
// engine's time alone (AMD EPYC Zen 5, whose FMA rate doubled Zen 4's on the same L3; on Zen 4
// the rule's measurements had this kernel ahead). A tile of pixels whose inputs take a quarter
// of L2 instead reads each panel from L3 once and then from L2 for every chunk of the tile.
inline int64_t tile_pixels(const Shape& s, int64_t lanes) {
  const int64_t chunk = chunk_pixels(s, lanes), l2 = engine::l2_cache_bytes();
  const int64_t weight_bytes = s.cin * s.vectors * kLanes * static_cast<int64_t>(sizeof(float));
  const bool past_l1 = cpu_vendor() == CpuVendor::Intel && weight_bytes > engine::l1_cache_bytes() / kIntelTileL1Share;
  if (weight_bytes <= l2 / 2 && !past_l1) return chunk;
  const int64_t fit = l2 / 4 / (s.cin * static_cast<int64_t>(sizeof(float)));
  return std::clamp<int64_t>(fit / chunk * chunk, chunk, kMaxTilePixels);
}

// Output pixels [p0, p1) times output vectors [v0, v1) (all of them, pixels outer). Pixels outer
// (channels_outer false): every panel for chunk_pixels pixels before the next chunk, their input
// rows staying in L1 and the packed weight in L2. Channels outer: each panel's vectors for every
// pixel before the next panel, so a task reads only its own part of the weight, once; with
// stream_weight (a weight read once per call, not the fused op's per-row calls) fetched ahead
// (WeightStream). With sums, each finished block (a chunk's pixels, or a panel's channels) is added into them.
// res may be out itself (a conv storing over its residual): each value is read before its store.
// Computed on vectors of W's lanes; built once per x86-64 level (pointwise_pixels_v4 and friends
// below), so everything it calls is inlined into it.
template <class W>
inline __attribute__((always_inline)) void pointwise_pixels_at(const float* __restrict__ x,
                                                               const float* __restrict__ wpk,
                                                               const float* __restrict__ bias, const float* res,
                                                               float* out, const Shape& s, Activation act, int64_t p0,
                                                               int64_t p1, int64_t v0, int64_t v1, bool channels_outer,
                                                               ChannelSums* sums, bool stream_weight) {
  alignas(64) float acc[kMaxBlockPixels * kAccRow];
  // Runs of vectors within one panel: [v, end of its panel or v1).
  auto run_end = [&](int64_t v) { return std::min(v1, s.panel_end(s.panel_of(v))); };
  if (channels_outer) {
    // Equal chunks of the panel's rows, each at most half of L1 (76 rows of a 5-vector panel in
    // 48 KB).
    const int64_t k_max = std::max<int64_t>(kLanes, engine::l1_cache_bytes() / 2 / (kAccRow * sizeof(float)));
    const int64_t k_chunk = ceil_div(s.cin, ceil_div(s.cin, k_max));
    // Only panels past 1.25x L1 are chunked: alone, RegNetY's 440 -> 440 on 7x7 took 0.75-0.87x
    // the time, 256 -> 1024 and 320 -> 1280 0.87-0.96x; panels of 96-160 rows gained nothing
    // (Intel Xeon, 48 KB L1, 2026-12-06, benchmarks/results/cpu_pointwise_chunks_intel.md).
    thread_local std::vector<float> partial_mem;
    float* partial = nullptr;
    if (s.cin * kAccRow * static_cast<int64_t>(sizeof(float)) * 4 > engine::l1_cache_bytes() * 5) {
      if (static_cast<int64_t>(partial_mem.size()) < (p1 - p0) * kAccRow) partial_mem.resize((p1 - p0) * kAccRow);
      partial = partial_mem.data();
    }
    // The stream: panels j0..j1 (whole: a part-panel's other columns share its rows' lines), from
    // the end of the first chunk the first block reads itself, over every block of 4 pixels.
    WeightStream ws;
    if (stream_weight) {
      const int64_t j0 = s.panel_of(v0), j1 = s.panel_of(v1 - 1);
      const float* begin = wpk + j0 * kPanel * s.cin;
      const float* end = wpk + (j1 * kPanel + (s.panel_end(j1) - j1 * kVecs) * kLanes) * s.cin;
      const int64_t chunks = partial ? ceil_div(s.cin, k_chunk) : 1;
      const int64_t steps = (j1 - j0 + 1) * chunks * ceil_div<int64_t>(p1 - p0, 4);
      const int64_t lines = (end - begin) * static_cast<int64_t>(sizeof(float)) / 64;
      ws.next = reinterpret_cast<const char*>(begin + (s.panel_end(j0) - j0 * kVecs) * kLanes * (partial ? k_chunk : s.cin));
      ws.end = reinterpret_cast<const char*>(end);
      ws.lines = WeightStream::kAhead * ceil_div<int64_t>(lines, steps);
    }
    for (int64_t v = v0; v < v1; v = run_end(v)) {
      if (partial) {
        pixels_times_vectors_chunked<W>(x, wpk, bias, res, out, s, act, p0, p1 - p0, v, run_end(v) - v, acc, partial,
                                     k_chunk, stream_weight ? &ws : nullptr);
      } else {
        pixels_times_vectors<W>(x, wpk, bias, res, out, s, act, p0, p1 - p0, v, run_end(v) - v, acc, 0,
                             stream_weight ? &ws : nullptr);
      }
      if (sums) {
        const int64_t c0 = v * kLanes;
        sums->add(p0, p1 - p0, out + p0 * s.out_pitch + c0, s.out_pitch, c0, std::min(s.cout, run_end(v) * kLanes) - c0);
      }
    }
    return;
  }
  // Pixels outer: every task has all the output vectors (v0 = 0, v1 = vectors), so its runs are
  // the panels. Output channels off the 16-lane grid, pixels dense in out: a pixel's last vector
  // is stored whole, its lanes past Cout landing on the next pixels' first channels, where those
  // pixels are this task's and are stored afterwards: panels run last to first within a chunk.
  // The exact part-vector store (store_row's lane-by-lane tail) stays for the task's last pixels,
  // and for every pixel where out is the residual itself (a conv storing over its residual): a
  // spill there would overwrite residual values before their pixel reads them.
  const bool spill = s.cout % kLanes != 0 && s.out_pitch == s.cout && res != out;
  const int64_t chunk = tile_pixels(s, vec::kLanesOf<W>);
  for (int64_t p = p0; p < p1; p += chunk) {
    for (int64_t jj = 0; jj < s.panels; ++jj) {
      const int64_t j = spill ? s.panels - 1 - jj : jj;
      pixels_times_vectors<W>(x, wpk, bias, res, out, s, act, p, std::min(chunk, p1 - p), j * kVecs,
                           s.panel_end(j) - j * kVecs, acc, spill ? p1 : 0);
    }
    // The chunk's pixels are final: a whole-vector store past a pixel's channels lands on the
    // next chunk's first pixel, stored (and summed) later.
    if (sums) sums->add(p, std::min(chunk, p1 - p), out + p * s.out_pitch, s.out_pitch, 0, s.cout);
  }
}

// pointwise_pixels_at on each x86-64 level's own vector width (common/cpu_levels.h): the packed
// weight, its 64-channel panels and the accumulator rows are the same at every level; only the
// register blocking differs (panel_block). Its 16-lane code built for AVX2 ran 20-30x oneDNN's time
// there (AMD EPYC Zen 3), every vector moved through the stack (common/vec_cpu.h).
#define CNNFAST_POINTWISE_ARGS                                                                                  \
  const float *x, const float *wpk, const float *bias, const float *res, float *out, const Shape &s,            \
      Activation act, int64_t p0, int64_t p1, int64_t v0, int64_t v1, bool channels_outer, ChannelSums *sums,   \
      bool stream_weight
#define CNNFAST_POINTWISE_PASS x, wpk, bias, res, out, s, act, p0, p1, v0, v1, channels_outer, sums, stream_weight
#if CNNFAST_CPU_LEVELS
CNNFAST_TARGET_V4 void pointwise_pixels_v4(CNNFAST_POINTWISE_ARGS) {
  pointwise_pixels_at<vec::vf<16>>(CNNFAST_POINTWISE_PASS);
}

CNNFAST_TARGET_V3 void pointwise_pixels_v3(CNNFAST_POINTWISE_ARGS) {
  pointwise_pixels_at<vec::vf<8>>(CNNFAST_POINTWISE_PASS);
}
#endif

void pointwise_pixels_baseline(CNNFAST_POINTWISE_ARGS) { pointwise_pixels_at<vec::vf<4>>(CNNFAST_POINTWISE_PASS); }

void pointwise_pixels(CNNFAST_POINTWISE_ARGS = false) { CNNFAST_PICK_LEVEL(pointwise_pixels)(CNNFAST_POINTWISE_PASS); }
#undef CNNFAST_POINTWISE_PASS
#undef CNNFAST_POINTWISE_ARGS

}  // namespace

bool pointwise_direct_supported(const engine::ConvGeometry& geo) {
  if (!(geo.groups == 1 && geo.reads_input_rows() && geo.n > 0)) return false;
  if (geo.macs() <= kPointwiseMaxMacs) return true;
  if (geo.n * geo.pixels() >= kPointwiseMinPixelsAnyWeight) return true;
  return geo.macs() <= kPointwiseL2Macs && geo.k * geo.c <= kPointwiseL2Weight && geo.k >= kPointwiseL2MinCout;
}

namespace {

Shape make_shape(int64_t cin, int64_t cout, int64_t out_pitch) {
  const int64_t vectors = ceil_div(cout, kLanes);
  return Shape{cin, cout, vectors, out_pitch, panel_count(vectors)};
}

// (Cout, Cin, 1, 1) -> panels of kPanel output channels, each (Cin, width) row-major, the last
// one as wide as the vectors it needs, 1-5 (zero channels past Cout); packed once per weight.
at::Tensor packed_weight(const at::Tensor& weight, const Shape& s) {
  return prepacked_weight(weight, PackedLayout::Pointwise, 0, [&s](const at::Tensor& wt) {
    const int64_t co = wt.size(0), ci = wt.size(1), cp = s.vectors * kLanes;
    const at::Tensor padded = at::constant_pad_nd(wt.reshape({co, ci}), {0, 0, 0, cp - co});
    std::vector<at::Tensor> parts;
    for (int64_t j = 0; j < s.panels; ++j) {
      parts.push_back(padded.slice(0, j * kPanel, s.panel_end(j) * kLanes).t().contiguous().view(-1));
    }
    return at::cat(parts);
  });
}

std::vector<float> panel_bias(const std::optional<at::Tensor>& bias, const Shape& s) {
  return padded_bias(bias, s.cout, round_up(s.vectors, kVecs) * kLanes);
}

// The kernel over every pixel of x into out_data, pixels out_pitch floats apart (residual dense).
void run_pointwise(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                   const float* residual, Activation act, float* out_data, int64_t out_pitch,
                   ChannelSums* sums = nullptr) {
  const Shape s = make_shape(weight.size(1), weight.size(0), out_pitch);
  const int64_t cin = s.cin, cout = s.cout;
  const at::Tensor wpk = packed_weight(weight, s);
  const std::vector<float> b = panel_bias(bias, s);
  const float* xp = x.const_data_ptr<float>();
  const float* wp = wpk.const_data_ptr<float>();
  const int64_t pixels = x.size(0) * x.size(2) * x.size(3);
  // Where the weight outweighs the pixels' inputs and outputs (7x7 and 14x14 maps at batch 1),
  // threads split the output channels instead of the pixels, so each reads half the weight once
  // (from L3 or memory on each call, in a model). Measured with 2 threads (AMD EPYC Zen 4,
  // 2026-12-04), caches flushed between calls as a model's other layers do: MobileNetV3's
  // 160 -> 960 on 7x7 0.85x the time, 672 -> 160 0.94x, 960 -> 160 0.96x; warm 0.89-0.94x.
  if (pixels * (cin + cout) < cin * cout && s.vectors >= 2 * at::get_num_threads()) {
    at::parallel_for(0, s.vectors, 1, [&](int64_t v0, int64_t v1) {
      pointwise_pixels(xp, wp, b.data(), residual, out_data, s, act, 0, pixels, v0, v1, true, sums, true);
    });
    return;
  }
  // Tasks take whole chunks of pixels, about 32k multiply-adds each at least.
  const int64_t chunk = chunk_pixels(s, level_lanes());
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, cin * s.vectors * kLanes * chunk));
  at::parallel_for(0, ceil_div(pixels, chunk), grain, [&](int64_t b0, int64_t b1) {
    pointwise_pixels(xp, wp, b.data(), residual, out_data, s, act, b0 * chunk, std::min(pixels, b1 * chunk), 0,
                     s.vectors, false, sums);
  });
}

}  // namespace

PointwiseRows::PointwiseRows(const at::Tensor& weight, const std::optional<at::Tensor>& bias, Activation act)
    : cin(weight.size(1)), cout(weight.size(0)), act(act) {
  const Shape s = make_shape(cin, cout, round_up(cout, kLanes));
  packed = packed_weight(weight, s);
  this->bias = panel_bias(bias, s);
}

void PointwiseRows::run(const float* x, int64_t pixels, float* out) const {
  Shape s = make_shape(cin, cout, round_up(cout, kLanes));
  s.whole_vectors = true;
  // Each panel's vectors over the row's pixels before the next panel: the row's inputs stay in L1,
  // and each panel of the weight is read once per row.
  pointwise_pixels(x, packed.const_data_ptr<float>(), bias.data(), nullptr, out, s, act, 0, pixels, 0, s.vectors, true,
                   nullptr);
}

at::Tensor pointwise_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                              const std::optional<at::Tensor>& residual, Activation act, at::IntArrayRef out_shape,
                              ChannelSums* sums) {
  DirectConvIo io(x, residual, act, out_shape);
  run_pointwise(x, weight, bias, io.residual, io.store_act, io.data, weight.size(0), sums);
  return io.out;
}

void pointwise_conv_cpu_out(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                            const std::optional<at::Tensor>& residual, Activation act, at::Tensor& out) {
  TORCH_CHECK(pixel_dense_nhwc(out), "cnnfast: pointwise_conv_cpu_out needs pixels at one pitch in out");
  // `out` may be the residual itself (optimize()'s reuse_residual_buffer): pointwise_pixels then
  // stores no vector past a pixel's channels.
  const at::Tensor res = residual.has_value() ? residual->contiguous(at::MemoryFormat::ChannelsLast) : at::Tensor();
  run_pointwise(x, weight, bias, res.defined() ? res.const_data_ptr<float>() : nullptr, act,
                out.mutable_data_ptr<float>(), out.stride(3));
}

}  // namespace cnnfast
