// Depthwise convolution (one filter per channel: MobileNet, ShuffleNet, EfficientNet) computed
// directly in channels_last. These convs do ~9 multiply-adds per output element, so their time is
// call overhead and memory traffic, not arithmetic: through oneDNN one took 25-30 us for
// ShuffleNet's 58 x 28 x 28 maps (0.8 MFLOP, ~30 GFLOP/s), a fifth of that network's conv time.
// Here input rows are copied once into a ring of zero-padded rows (padding columns and channels
// rounded up to 16 are zeros, so the tap loop has no bounds tests or channel tail; on small maps
// with many channels the ring holds one L1-sized chunk of channels at a time, chunk_channels), or,
// for channels on whole 16-lane blocks whose maps stay in cache, taps read the input in place and
// load columns outside the image as zeros (reads_in_place). Each block of 16 channels (8 in the
// AVX2 build) of an output pixel accumulates its taps in one vector register (for 3x3 and 5x5
// filters at stride 1 or 2, eight pixels share one load of each input column; at stride 1, with
// AVX-512, two output rows share each input row's loads), and residual and activation are
// applied as that register is stored to the output.
#include "ops/conv2d_bias_act/depthwise_conv_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/channel_sums.h"
#include "common/cpu_levels.h"
#include "common/math.h"
#include "common/prepacked_weights.h"
#include "common/vec_cpu.h"
#include "conv_engine/tiling.h"
#include "ops/conv2d_bias_act/direct_conv_cpu.h"

namespace cnnfast {

namespace {

// Channels are padded to 16 (packed taps, bias, the ring) at every level; a level's build takes
// them in vectors of W lanes (16 with AVX-512, 8 with AVX2, 4 below), which divide 16.
constexpr int64_t kLanes = 16;

constexpr int64_t kPixels = 8;  // output pixels accumulated together

int64_t padded(int64_t c) { return round_up(c, kLanes); }

#define CNNFAST_INLINE inline __attribute__((always_inline))

// Up to this many multiply-adds per call this kernel beats oneDNN's depthwise conv at any channel
// count (see depthwise_direct_supported for the measurements).
constexpr int64_t kMaxDirectMacs = 3300000;
// The same for fewer than 64 channels off the 16-lane grid (see depthwise_direct_supported).
constexpr int64_t kMaxNarrowOffGridMacs = 1000000;
// Without AVX-512, up to this many (see depthwise_direct_supported).
constexpr int64_t kMaxAvx2DirectMacs = 1500000;

struct Geometry {
  int64_t n, c, cp, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
  // The ring of padded input rows (set_ring): columns per row, wide enough for whole blocks of
  // eight output pixels; rows (one per input row a filter spans); channels per chunk
  // (chunk_channels), a multiple of 16.
  int64_t ring_w = 0, span = 0, cb = 0;
  // Output rows two at a time (row_taps2): 3- and 5-wide filters at stride 1, dilation 1. Measured
  // against one row at a time, alternated in one process (AMD EPYC Zen 5, 2 threads, 2026-12-04,
  // 22 stride-1 depthwise convs and pools of MobileNetV3, EfficientNet, ShuffleNet, Inception-v3):
  // 0.68-1.05x of its time at batch 1 (median 0.92), 0.59-1.08x at batch 8 (median 0.87); whole
  // models 0.98-0.99x (EfficientNet-B0, MobileNetV3-L, Inception-v3).
  bool pairs = false;
  // Taps read x itself, no ring (set_ring): channels on whole 16-lane blocks, where every column
  // load is 64-byte aligned. Columns outside the image load as zeros in the tap loop instead.
  bool direct = false;
  // Floats between output pixels: c, or a concat buffer's channel count where the output is a
  // slice of it (depthwise_conv_cpu_out).
  int64_t opitch = 0;
};

// The register-reuse forms of the tap loop (row_taps<KW, S>): filter width 3 or 5 at stride 1 or
// 2, dilation 1. Generic: any other geometry, one load per multiply-add.
enum class TapForm { Generic, K3S1, K5S1, K3S2, K5S2 };

TapForm tap_form(const Geometry& g) {
  if (g.dw != 1) return TapForm::Generic;
  if (g.sw == 1) return g.kw == 3 ? TapForm::K3S1 : (g.kw == 5 ? TapForm::K5S1 : TapForm::Generic);
  if (g.sw == 2) return g.kw == 3 ? TapForm::K3S2 : (g.kw == 5 ? TapForm::K5S2 : TapForm::Generic);
  return TapForm::Generic;
}

// v[p] += sum over k of cols[S * p + k] * wt[k * wpitch]: one filter row's KW taps for eight output
// pixels, from input columns already in registers.
template <int KW, int S, int kCols, class vf>
CNNFAST_INLINE void filter_row(vf (&v)[kPixels], const vf (&cols)[kCols], const float* wt, int64_t wpitch) {
#pragma GCC unroll 5
  for (int k = 0; k < KW; ++k) {
    const vf wv = vec::load<vf>(wt + k * wpitch);
#pragma GCC unroll 8
    for (int p = 0; p < kPixels; ++p) v[p] += cols[S * p + k] * wv;
  }
}

// One filter row's taps for eight output pixels at stride S (1 or 2) and dilation 1: the
// S * 7 + KW input columns they share are loaded once and reused from registers by every tap (the
// generic loop loads one per multiply-add, and those loads are what bounded it: measured on
// MobileNetV3's maps). Same multiply-adds in the same order as the generic loop.
// Columns [lo, hi) of the block are inside the image; the others load as zeros (read from x
// directly: Geometry::direct; the ring's padding columns are zeros already, lo = 0, hi = kCols).
template <int KW, int S, class vf>
CNNFAST_INLINE void row_taps(vf (&v)[kPixels], const float* in, const float* wt, int64_t pitch, int64_t wpitch,
                             int64_t lo, int64_t hi) {
  constexpr int kCols = S * (kPixels - 1) + KW;  // <= 19: with 8 accumulators, in AVX-512's registers
  if constexpr (vec::kLanesOf<vf> < 16 && S == 2) {
    // Below AVX-512 there are 16 registers: at stride 2 the 17 or 19 columns and 8 accumulators
    // would not fit, and GCC spilled the columns to the stack (store, then reload). There each tap
    // loads its column as the multiply-add's memory operand, one load per multiply-add, which
    // Zen 3's three load ports absorb beside its two FMA units. (At stride 1, 10 or 12 columns,
    // the spilling form stayed as fast or faster.)
    if (lo <= 0 && hi >= kCols) {
#pragma GCC unroll 5
      for (int k = 0; k < KW; ++k) {
        const vf wv = vec::load<vf>(wt + k * wpitch);
#pragma GCC unroll 8
        for (int p = 0; p < kPixels; ++p) v[p] += vec::load<vf>(in + (S * p + k) * pitch) * wv;
      }
      return;
    }
  }
  vf cols[kCols];
#pragma GCC unroll 19
  for (int q = 0; q < kCols; ++q) cols[q] = q >= lo && q < hi ? vec::load<vf>(in + q * pitch) : vf{};
  filter_row<KW, S>(v, cols, wt, wpitch);
}

// One input row's contribution to two output rows at stride 1 (pairs of rows, see
// depthwise_rows): its KW + 7 columns are loaded once and feed the taps of both rows' filter rows
// (wt0: the upper output row's, wt1: the lower's; null where the input row is outside that row's
// window). A single row loads every input row once per output row it feeds, from the ring in L2.
template <int KW, class vf>
CNNFAST_INLINE void row_taps2(vf (&v0)[kPixels], vf (&v1)[kPixels], const float* in, const float* wt0,
                              const float* wt1, int64_t pitch, int64_t wpitch, int64_t lo, int64_t hi) {
  constexpr int kCols = kPixels - 1 + KW;  // <= 12: with 16 accumulators, in AVX-512's registers
  vf cols[kCols];
#pragma GCC unroll 12
  for (int q = 0; q < kCols; ++q) cols[q] = q >= lo && q < hi ? vec::load<vf>(in + q * pitch) : vf{};
  if (wt0) filter_row<KW, 1>(v0, cols, wt0, wpitch);
  if (wt1) filter_row<KW, 1>(v1, cols, wt1, wpitch);
}

// The input columns of the block of eight output pixels from ox: the first (col0), in the ring's
// columns or, read in place, x's; and [lo, hi), relative to col0, the ones inside the image (the
// ring's padding columns are zeros, so there every column counts).
struct BlockColumns {
  int64_t col0, lo, hi;
};

CNNFAST_INLINE BlockColumns block_columns(const Geometry& g, int64_t ox) {
  if (!g.direct) return {ox * g.sw, 0, g.ring_w - ox * g.sw};
  const int64_t col0 = ox * g.sw - g.pw;
  return {col0, std::max<int64_t>(0, -col0), g.w - col0};
}

CNNFAST_INLINE float* align64(float* p) {
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
}

// Work items [i0, i1) of (image, channel chunk, output row), row fastest, on vectors of W lanes.
// Everything it does is inlined into this one function: it is built per x86-64 level
// (depthwise_rows_v4 and friends below), and helpers it called would be built for the baseline.
// With a row source (src), each input row is produced into its ring slot instead of copied from x.
// With sums, each finished output row's channels are added into them while the row is in cache.
template <int W>
CNNFAST_INLINE void depthwise_rows_at(const float* __restrict__ x, const RowSource* src, const float* __restrict__ wpk,
                                      const float* __restrict__ bias, const float* __restrict__ res,
                                      float* __restrict__ out, const Geometry& g, Activation act, ChannelSums* sums,
                                      int64_t i0, int64_t i1) {
  using vf = vec::vf<W>;
  // A ring of padded input rows holding one chunk of g.cb channels (all of them, unless
  // chunk_channels cut them to fit half of L1): consecutive output rows share KH - stride of
  // theirs, so each input row's chunk is copied in once per task, and every tap reads the ring.
  // Padding columns, and the lanes past C of a layer off the 16-lane grid (never chunked), are
  // zeroed once, here; a copy writes only the real columns and channels.
  // Rows are wide enough for whole blocks of eight output pixels: the last block of a row reads
  // zero columns past the padding and stores only its valid pixels.
  // Read directly (g.direct), taps take x's rows: pitch C, column 0 the image's first.
  const int64_t pitch = g.direct ? g.c : g.cb, row = g.ring_w * pitch, span = g.span;
  // 64-byte aligned (std::vector gives 16): a vector load that straddles two cache lines costs
  // two, and measured here that halved the kernel's speed.
  std::vector<float> ring_mem(g.direct ? 0 : span * row + kLanes, 0.0f);
  float* const ring = align64(ring_mem.data());
  std::vector<int64_t> holds(span, -1);  // img * H + iy of the row in each slot, this chunk
  std::vector<const float*> tap_rows(g.kh + 1);
  const TapForm form = tap_form(g);
  const int64_t chunks = ceil_div(g.cp, g.cb);
  int64_t chunk = -1;
  for (int64_t i = i0; i < i1; ++i) {
    if ((i / g.oh) % chunks != chunk) {
      chunk = (i / g.oh) % chunks;
      std::fill(holds.begin(), holds.end(), -1);
    }
    const int64_t img = i / (g.oh * chunks), oy = i % g.oh, r = img * g.oh + oy;
    // Rows oy and oy + 1 together: same image and chunk, both in this task. Not below AVX-512:
    // two rows' 16 accumulators alone fill AVX2's 16 registers.
    const bool two = W == 16 && g.pairs && i + 1 < i1 && oy + 1 < g.oh;
    const int64_t c0 = chunk * g.cb, cw = std::min(g.cb, g.cp - c0), real = std::min(cw, g.c - c0);
    // Each W-channel block goes straight from its accumulator to the output row (store_block:
    // bias is in the accumulator; residual and activation are applied there).
    float* const o = out + r * g.ow * g.opitch + c0;
    const float* const rr = res ? res + r * g.ow * g.c + c0 : nullptr;
    // Channels off the 16-lane grid (never chunked): a pixel's last block is stored whole where it
    // ends inside the row, its lanes past C landing on the next pixels' first channels, which are
    // stored afterwards (blocks in descending order, pixels ascending). Part-block stores go lane
    // by lane, as every store into a concat slice's last block does (its neighbours are not ours).
    const bool spill = g.c % kLanes != 0 && g.opitch == g.c;
    const int64_t blocks = ceil_div<int64_t>(real, W);  // none wholly in the padding (W < 16, C off the grid)
    auto put_row = [&](float* orow, const float* rrow, int64_t px, int64_t cc, vf v) __attribute__((always_inline)) {
      float* const op = orow + px * g.opitch + cc;
      const float* const rp = rrow ? rrow + px * g.c + cc : nullptr;
      if (spill && px * g.c + cc + W <= g.ow * g.c) {  // the whole block inside the row
        store_full_block(op, v, rp, act);
      } else {
        store_block(op, v, rp, real - cc, act);
      }
    };
    auto put = [&](int64_t px, int64_t cc, vf v) __attribute__((always_inline)) { put_row(o, rr, px, cc, v); };
    for (int64_t t = 0; t < g.kh + (two ? 1 : 0); ++t) {
      const int64_t iy = oy * g.sh - g.ph + t * g.dh;
      if (iy < 0 || iy >= g.h) {
        tap_rows[t] = nullptr;
        continue;
      }
      if (g.direct) {
        tap_rows[t] = x + (img * g.h + iy) * g.w * g.c + c0;
        continue;
      }
      float* slot = ring + (iy % span) * row;
      if (holds[iy % span] != img * g.h + iy) {
        holds[iy % span] = img * g.h + iy;
        float* dst = slot + g.pw * pitch;
        const float* xrow = src ? nullptr : x + (img * g.h + iy) * g.w * g.c + c0;
        if (src) {
          src->fill(src->ctx, img, iy, dst);
        } else if (cw == g.c) {  // all channels, on whole blocks: the row is one contiguous run
          __builtin_memcpy(dst, xrow, g.w * g.c * sizeof(float));
        } else if (real == cw) {
          for (int64_t ix = 0; ix < g.w; ++ix) {
            for (int64_t k = 0; k < cw; k += W) vec::store(dst + ix * pitch + k, vec::load<vf>(xrow + ix * g.c + k));
          }
        } else {
          for (int64_t ix = 0; ix < g.w; ++ix) {
            for (int64_t k = 0; k < real; ++k) dst[ix * pitch + k] = xrow[ix * g.c + k];
          }
        }
      }
      tap_rows[t] = slot;
    }
    if (two) {
      float* const o1 = o + g.ow * g.opitch;
      const float* const rr1 = rr ? rr + g.ow * g.c : nullptr;
      for (int64_t ox = 0; ox < g.ow; ox += kPixels) {
        const int64_t valid = std::min(kPixels, g.ow - ox);
        const BlockColumns bc = block_columns(g, ox);
        const int64_t col0 = bc.col0, lo = bc.lo, hi = bc.hi;
        for (int64_t jb = 0; jb < blocks; ++jb) {
          const int64_t cc = (spill ? blocks - 1 - jb : jb) * W;
          const vf b0 = vec::load<vf>(bias + c0 + cc);
          vf v0[kPixels], v1[kPixels];
#pragma GCC unroll 8
          for (int64_t p = 0; p < kPixels; ++p) v0[p] = b0, v1[p] = b0;
          for (int64_t u = 0; u <= g.kh; ++u) {  // input rows oy - ph + u: row oy's tap u, row oy + 1's u - 1
            if (!tap_rows[u]) continue;
            const float* in = tap_rows[u] + col0 * pitch + cc;
            const float* wt0 = u < g.kh ? wpk + u * g.kw * g.cp + c0 + cc : nullptr;
            const float* wt1 = u > 0 ? wpk + (u - 1) * g.kw * g.cp + c0 + cc : nullptr;
            if (form == TapForm::K3S1) {
              row_taps2<3>(v0, v1, in, wt0, wt1, pitch, g.cp, lo, hi);
            } else {
              row_taps2<5>(v0, v1, in, wt0, wt1, pitch, g.cp, lo, hi);
            }
          }
#pragma GCC unroll 8
          for (int64_t p = 0; p < kPixels; ++p) {
            if (p < valid) {
              put(ox + p, cc, v0[p]);
              put_row(o1, rr1, ox + p, cc, v1[p]);
            }
          }
        }
      }
      if (sums) sums->add(r * g.ow, 2 * g.ow, o, g.opitch, c0, real);
      ++i;
      continue;
    }
    // Eight output pixels at a time, all the chunk's 16-channel blocks before the next eight (the
    // input columns they read stay in L1): eight independent FMA chains keep both FMA units busy
    // (one chain is bound by the FMA latency, ~4x slower), and each filter tap is loaded once for the eight.
    for (int64_t ox = 0; ox < g.ow; ox += kPixels) {
      const int64_t valid = std::min(kPixels, g.ow - ox);
      const BlockColumns bc = block_columns(g, ox);
      const int64_t col0 = bc.col0, lo = bc.lo, hi = bc.hi;
      for (int64_t jb = 0; jb < blocks; ++jb) {
        const int64_t cc = (spill ? blocks - 1 - jb : jb) * W;
        const vf b0 = vec::load<vf>(bias + c0 + cc);
        vf v[kPixels];
#pragma GCC unroll 8
        for (int64_t p = 0; p < kPixels; ++p) v[p] = b0;
        for (int64_t t = 0; t < g.kh; ++t) {
          if (!tap_rows[t]) continue;
          const float* in = tap_rows[t] + col0 * pitch + cc;
          const float* wt = wpk + t * g.kw * g.cp + c0 + cc;
          switch (form) {
            case TapForm::K3S1: row_taps<3, 1>(v, in, wt, pitch, g.cp, lo, hi); continue;
            case TapForm::K5S1: row_taps<5, 1>(v, in, wt, pitch, g.cp, lo, hi); continue;
            case TapForm::K3S2: row_taps<3, 2>(v, in, wt, pitch, g.cp, lo, hi); continue;
            case TapForm::K5S2: row_taps<5, 2>(v, in, wt, pitch, g.cp, lo, hi); continue;
            case TapForm::Generic: break;
          }
          for (int64_t k = 0; k < g.kw; ++k) {
            const vf wv = vec::load<vf>(wt + k * g.cp);
            const int64_t qk = k * g.dw;  // the tap's column for pixel p: qk + p * sw
#pragma GCC unroll 8
            for (int64_t p = 0; p < kPixels; ++p) {
              const int64_t q = qk + p * g.sw;
              v[p] += (q >= lo && q < hi ? vec::load<vf>(in + q * pitch) : vf{}) * wv;  // as the ring's zeros
            }
          }
        }
        // Unrolled with constant indices either way, so v stays in registers.
#pragma GCC unroll 8
        for (int64_t p = 0; p < kPixels; ++p) {
          if (p < valid) put(ox + p, cc, v[p]);
        }
      }
    }
    if (sums) sums->add(r * g.ow, g.ow, o, g.opitch, c0, real);
  }
}

// depthwise_rows_at built at each x86-64 level on that level's vector width (common/cpu_levels.h):
// the 16-lane build alone ran 1.0-3x oneDNN's time on AVX2 (AMD EPYC Zen 3), where GCC keeps
// 16-lane vectors on the stack (common/vec_cpu.h).
#define CNNFAST_DEPTHWISE_ROWS_ARGS                                                                             \
  const float *x, const RowSource *src, const float *wpk, const float *bias, const float *res, float *out,      \
      const Geometry &g, Activation act, ChannelSums *sums, int64_t i0, int64_t i1
#if CNNFAST_CPU_LEVELS
CNNFAST_TARGET_V4 void depthwise_rows_v4(CNNFAST_DEPTHWISE_ROWS_ARGS) {
  depthwise_rows_at<16>(x, src, wpk, bias, res, out, g, act, sums, i0, i1);
}

CNNFAST_TARGET_V3 void depthwise_rows_v3(CNNFAST_DEPTHWISE_ROWS_ARGS) {
  depthwise_rows_at<8>(x, src, wpk, bias, res, out, g, act, sums, i0, i1);
}
#endif

void depthwise_rows_baseline(CNNFAST_DEPTHWISE_ROWS_ARGS) {
  depthwise_rows_at<4>(x, src, wpk, bias, res, out, g, act, sums, i0, i1);
}
#undef CNNFAST_DEPTHWISE_ROWS_ARGS

// Channels per ring chunk (g.ring_w and g.span set). All of them unless a ring of all channels
// would take more than a sixth of L2 while an image's input and output fit in three quarters of it (so each chunk
// re-reads its part of the input from L2): then the largest multiple of 16 whose ring fits half
// of L1. Cache sizes are read at run time. Measured against one ring of all channels, alternated
// in one process (2 threads, AMD EPYC Zen 4, 32 KB L1, 1 MB L2, 2026-12-04), batch 1 / 8:
// MobileNetV3's and EfficientNet's 5x5 layers 960 x 7x7 0.73 / 0.86, 1152 x 7x7 0.71 / 0.81,
// 672 x 14x14 stride 2 0.78 / 0.82, 480 x 14x14 0.79 / 0.98. Not chunked, measured: 3x3 rings
// (92-138 KB; 480-1152 channels 0.97-1.35x chunked), 672 x 14x14 5x5 at stride 1 (0.67x at batch
// 1 but 1.38x at batch 8, where the output evicts the input from L2 between chunks), maps over L2
// (96 x 112x112 and 144 x 56x56 at batch 8: 1.3-1.6x), channels off the 16-lane grid (58, 116:
// 1.2-1.5x, copied element by element).
int64_t chunk_channels(const Geometry& g) {
  const int64_t column_bytes = g.span * g.ring_w * int64_t{sizeof(float)};  // one channel of the ring
  const int64_t image_bytes = (g.h * g.w + g.oh * g.ow) * g.c * int64_t{sizeof(float)};  // input + output
  const int64_t l2 = engine::l2_cache_bytes(), ring_budget = engine::l1_cache_bytes() / 2;
  if (g.c % kLanes != 0 || image_bytes > l2 * 3 / 4 || column_bytes * g.cp <= l2 / 6) return g.cp;
  return std::clamp<int64_t>(ring_budget / column_bytes / kLanes * kLanes, kLanes, g.cp);
}

// Whether taps read x in place (Geometry::direct) rather than a ring of copied rows: channels on
// whole 16-lane blocks (off the grid, a pixel's vectors would straddle cache lines), all of them
// in one chunk (where chunk_channels chunks the ring, its L1-sized copy of each row is what pays),
// an image's input within L2 and the batch's input and output within half of L3 (cache sizes read
// at run time). Each layer timed in the model, alternating in place and ring in one process (AMD
// EPYC Zen 5, 2 threads, 2026-12-05, MobileNetV3-L and EfficientNet-B0): the layers this takes,
// 0.73-0.95x of the ring's time at batch 1 (16 x 112x112, 240 x 28x28, 480 and 672 x 14x14), 0.81-0.87x
// at batch 8. Left on the ring, measured in place: 64 and 96 x 112x112 at stride 2 (3.2 and 4.8 MB
// an image) 1.15-1.24x (0.73-0.84x alone, on a warm input), 144 x 56x56 at stride 1 1.03-1.22x,
// chunked 960 and 1152 x 7x7 1.0-1.05x, batches of 26-38 MB 1.15-1.53x (the row copy streams
// memory sequentially where the taps read it by columns). Some larger images gained in place (32 x
// 112x112 0.84x, 144 x 56x56 5x5 at stride 2 0.72x): no rule that kept them lost nothing elsewhere.
bool reads_in_place(const Geometry& g) {
  const int64_t image_bytes = g.h * g.w * g.c * int64_t{sizeof(float)};
  const int64_t batch_bytes = g.n * (g.h * g.w + g.oh * g.ow) * g.c * int64_t{sizeof(float)};
  return g.c % kLanes == 0 && g.cb == g.cp && image_bytes <= engine::l2_cache_bytes() &&
         batch_bytes <= engine::l3_cache_bytes() / 2;
}

// The ring's width in columns, its rows and its chunk of channels. A produced map (a row source)
// always goes through the ring, all channels at once: its rows exist nowhere else.
void set_ring(Geometry& g, bool produced = false) {
  const int64_t block_cols = (round_up(g.ow, kPixels) - 1) * g.sw + (g.kw - 1) * g.dw + 1;
  g.ring_w = std::max(g.w + 2 * g.pw, block_cols);
  const TapForm form = tap_form(g);
  g.pairs = (form == TapForm::K3S1 || form == TapForm::K5S1) && g.sh == 1 && g.dh == 1;
  g.span = (g.kh - 1) * g.dh + 1 + (g.pairs ? 1 : 0);  // a pair of output rows spans one row more
  g.cb = produced ? g.cp : chunk_channels(g);
  g.direct = !produced && reads_in_place(g);
}

}  // namespace

bool depthwise_direct_supported(const engine::ConvGeometry& geo, bool avx512) {
  if (!(geo.groups == geo.c && geo.k == geo.groups && geo.n > 0)) return false;
  // Where it pays, against oneDNN's depthwise kernel through ATen (every depthwise conv of the
  // lecture models at batch 1 and 8, 2 threads, bias + ReLU, AMD EPYC Zen 4, 2026-12-04:
  // `benchmarks/conv_engine_layers.py --depthwise`, benchmarks/results/cpu_depthwise_layers.md):
  // 0.31-0.82x of its time on all 28 at batch 1 and on the batch-8 ones whose channels fill whole
  // 16-lane blocks (0.38-1.03x); where they do not (MobileNetV3's 72 and 120 channels at batch 8)
  // the row copy goes element by element and the padded lanes are wasted work: 1.11-1.32x. Those
  // stay with oneDNN above the size where its fixed cost per call dominates (~3.3M multiply-adds).
  // Under 64 such channels (ShuffleNet's 24 and 58 at batch 8, 1.3-3.3M multiply-adds), the padded
  // lanes are a tenth to a third of the work and each pixel carries little arithmetic for its copy
  // and store: 1.38-1.54x oneDNN's time on Zen 4 (same file) and 1.2-1.6x on Zen 5 in four runs
  // (AMD EPYC Zen 5, 2026-12-04, benchmarks/results/cpu_depthwise_layers_zen5.md); at batch 1
  // (0.2-0.4M) still 0.5-0.8x. Those go to oneDNN from 1M multiply-adds.
  if (geo.c % kLanes != 0 && geo.c < 64 && geo.macs() > kMaxNarrowOffGridMacs) return false;
  // Without AVX-512 the AVX2 build (8-lane vectors, one output row at a time) against oneDNN's
  // AVX2 depthwise kernel (every depthwise conv of the lecture models at batch 1 and 8, 2 threads,
  // AMD EPYC Zen 3, 2026-12-07, `benchmarks/conv_engine_layers.py --depthwise`,
  // benchmarks/results/cpu_depthwise_layers_avx2.md, two runs): on the 19 convs up to 1.5M
  // multiply-adds that the narrow off-grid limit above leaves it, 0.52-1.02x of its time, a median
  // 0.66-0.74x, ahead on 17-18; past that 0.62-1.88x, a median 1.04-1.08x, losing on maps of 56x56
  // and more and on most batch-8 convs. oneDNN's fixed cost per call (~80 us on small maps here)
  // is what the direct kernel saves. Over all 56, 1.02x of the faster of the two per conv, where
  // oneDNN everywhere is 1.04x. (The 16-lane clone took a median 1.74x: GCC kept its vectors on
  // the stack.)
  if (!avx512) return geo.macs() <= kMaxAvx2DirectMacs;
  return geo.c % kLanes == 0 || geo.macs() <= kMaxDirectMacs;
}

namespace {

// (C, 1, KH, KW) -> (KH * KW, Cp), zero channels past C; packed once per weight.
at::Tensor packed_taps(const at::Tensor& weight, int64_t cp) {
  return prepacked_weight(weight, PackedLayout::Depthwise, 0, [cp](const at::Tensor& wt) {
    const int64_t ch = wt.size(0);
    return at::constant_pad_nd(wt.reshape({ch, -1}).t(), {0, cp - ch}).contiguous();
  });
}

void run_depthwise(const float* x, const RowSource* src, const at::Tensor& weight,
                   const std::optional<at::Tensor>& bias, const Geometry& g, const DirectConvIo& io,
                   ChannelSums* sums) {
  const at::Tensor wpk = packed_taps(weight, g.cp);
  const std::vector<float> b = padded_bias(bias, g.c, g.cp);
  const int64_t items = ceil_div(g.cp, g.cb) * g.n * g.oh;
  // About 16k multiply-adds per task: enough to pay for a thread hand-off.
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.ow * g.cb * g.kh * g.kw));
  const auto depthwise_rows = CNNFAST_PICK_LEVEL(depthwise_rows);
  at::parallel_for(0, items, grain, [&](int64_t i0, int64_t i1) {
    depthwise_rows(x, src, wpk.const_data_ptr<float>(), b.data(), io.residual, io.data, g, io.store_act, sums, i0,
                   i1);
  });
}

}  // namespace

at::Tensor depthwise_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                              at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                              const std::optional<at::Tensor>& residual, Activation act,
                              at::IntArrayRef out_shape, ChannelSums* sums) {
  const int64_t c = x.size(1), cp = padded(c);
  Geometry g{x.size(0),      c,         cp,        x.size(2),  x.size(3),  out_shape[2], out_shape[3], weight.size(2),
             weight.size(3), stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]};
  g.opitch = c;
  set_ring(g);
  DirectConvIo io(x, residual, act, out_shape);
  run_depthwise(x.const_data_ptr<float>(), nullptr, weight, bias, g, io, sums);
  return io.out;
}

void depthwise_conv_cpu_out(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                            at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                            const std::optional<at::Tensor>& residual, Activation act, at::Tensor& out) {
  const int64_t c = x.size(1), cp = padded(c);
  Geometry g{x.size(0),      c,         cp,        x.size(2),  x.size(3),  out.size(2), out.size(3), weight.size(2),
             weight.size(3), stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]};
  g.opitch = out.stride(3);
  set_ring(g);
  DirectConvIo io(out, residual, act);
  run_depthwise(x.const_data_ptr<float>(), nullptr, weight, bias, g, io, nullptr);
}

at::Tensor depthwise_conv_rows_cpu(const RowSource& src, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                                   at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                   Activation act, at::IntArrayRef out_shape, const at::TensorOptions& options,
                                   ChannelSums* sums) {
  Geometry g{src.n,          src.c,     padded(src.c), src.h,      src.w,      out_shape[2], out_shape[3], weight.size(2),
             weight.size(3), stride[0], stride[1],     padding[0], padding[1], dilation[0],  dilation[1]};
  g.opitch = src.c;
  set_ring(g, /*produced=*/true);
  DirectConvIo io(options, std::nullopt, act, out_shape);
  run_depthwise(nullptr, &src, weight, bias, g, io, sums);
  return io.out;
}

}  // namespace cnnfast
