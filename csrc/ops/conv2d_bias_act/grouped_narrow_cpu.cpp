// The grouped kernel's loop for groups of 2, 4 or 8 channels (RegNet's 8, ResNeXt-50's 4 and 8),
// called by grouped_conv_cpu. A 16-lane vector of output channels spans 16 / gw groups, so each
// input channel feeds only its own group's lanes: a plain broadcast would need zero weights
// between groups (and let a NaN in one group into the others, unlike eager PyTorch), and the
// permute that gave each lane its group's input (the kernel before this one) shared the FMAs'
// port on Intel cores and ran at 25% of their peak. Here the vector's lanes are interleaved
// (interleaved_channels) so that one broadcast load of G adjacent floats feeds all 16 lanes;
// the input rows are staged in that order (a permute per 16 channels per pixel, once per row),
// and the accumulators are put back in channel order (one permute) as they are stored with bias,
// residual and activation. 3-wide filter rows share each broadcast between the taps that read its
// column. Built for AVX-512 only, with intrinsics (see Repeat); an AVX2 build in grouped_narrow_avx2_cpu.cpp.
// Against the permute kernel, each layer alone (2 threads, Intel Xeon, 2026-12-06): RegNetY's
// groups of 8 0.63-0.83x its time, ResNeXt-50's groups of 4 and 8 0.69-0.87x.
#include "ops/conv2d_bias_act/grouped_narrow_cpu.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/channel_sums.h"
#include "common/math.h"
#include "common/vec16_cpu.h"
#include "common/vec_activation.h"
#include "ops/conv2d_bias_act/direct_conv_cpu.h"

namespace cnnfast {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)

#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#pragma GCC diagnostic push
// GCC 12's own AVX-512 headers trip this on _mm512_undefined_ps (a self-initialised value).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

}  // namespace cnnfast
#include "ops/conv2d_bias_act/grouped_narrow_rows.h"  // inside the target region: see there
namespace cnnfast {

namespace {

using vec16::kLanes;
using vec16::load;
using vec16::vf;
using vi = vec::int_of<vf>;

// G = 16 / gw groups per vector. Lane i * G + h holds channel i of the vector's group h, so slot
// j's inputs of the G groups are G adjacent floats once a 16-channel block of the input is stored
// in the same order. The lane -> channel map (the permute that stages an input block):
template <int G>
inline __attribute__((always_inline)) vi interleaved_channels() {
  vi idx;
#pragma GCC unroll 16
  for (int l = 0; l < kLanes; ++l) idx[l] = static_cast<int>(grouped_narrow_lane_channel(l, kLanes / G));
  return idx;
}

// Its inverse: natural channel n <- lane (n % gw) * G + n / gw.
template <int G>
inline __attribute__((always_inline)) vi natural_channels() {
  constexpr int gw = kLanes / G;
  vi idx;
#pragma GCC unroll 16
  for (int n = 0; n < kLanes; ++n) idx[n] = (n % gw) * G + n / gw;
  return idx;
}

// The G floats at p repeated over 16 lanes: one broadcast load (vbroadcastsd, vbroadcastf32x4,
// vbroadcastf32x8), which runs on the load ports, not on the shuffle port the FMAs share. (GCC
// 12 makes the last two a load and a shuffle from the generic vector code, hence intrinsics.)
struct Repeat {
  template <int G>
  static inline __attribute__((always_inline)) vf at(const float* p) {
    if constexpr (G == 2) {
      double d;
      __builtin_memcpy(&d, p, sizeof(d));
      return reinterpret_cast<vf>(_mm512_set1_pd(d));
    } else if constexpr (G == 4) {
      return reinterpret_cast<vf>(_mm512_broadcast_f32x4(_mm_loadu_ps(p)));
    } else {
      return reinterpret_cast<vf>(_mm512_broadcast_f32x8(_mm256_loadu_ps(p)));
    }
  }
};


// One input pixel staged for the narrow kernel (StagedRows): each 16-channel block in
// interleaved order, channels past C zeros.
template <int G>
inline __attribute__((always_inline)) void stage_pixel(const float* __restrict__ s, float* __restrict__ d,
                                                       const GroupedGeometry& g) {
  const vi order = interleaved_channels<G>();
  int64_t c0 = 0;
  for (; c0 + kLanes <= g.c; c0 += kLanes) vec16::store(d + c0, __builtin_shuffle(load(s + c0), order));
  if (c0 < g.c) {
    alignas(64) float tail[kLanes] = {};
    std::memcpy(tail, s + c0, sizeof(float) * (g.c - c0));
    vec16::store(d + c0, __builtin_shuffle(load(tail), order));
  }
}

// Work items [i0, i1) of (image, output row) for groups of 16 / G channels, blocks of NP pixels.
// A task's input rows are staged once each (grouped_narrow_rows.h).
template <int G, int NP>
inline __attribute__((always_inline)) void narrow_rows(const float* __restrict__ x, const float* __restrict__ wpk,
                                                       const float* __restrict__ bias, const float* __restrict__ res,
                                                       float* __restrict__ out, const GroupedGeometry& g,
                                                       Activation act, ChannelSums* sums, int64_t i0, int64_t i1) {
  constexpr int64_t gw = kLanes / G;
  const int64_t pitch = g.cp, taps = g.kh * g.kw, vectors = g.cp / kLanes;
  StagedRows staged(g);
  const vi back = natural_channels<G>(), order = interleaved_channels<G>();
  for (int64_t i = i0; i < i1; ++i) {
    const float* const* rows = staged.rows_for(
        i, x, [&g](const float* src, float* dst) __attribute__((always_inline)) { stage_pixel<G>(src, dst, g); });
    float* const o = out + i * g.ow * g.c;
    const float* const rr = res ? res + i * g.ow * g.c : nullptr;
    for (int64_t ox = 0; ox < g.ow; ox += NP) {
      const int64_t valid = std::min<int64_t>(NP, g.ow - ox);
      for (int64_t ov = 0; ov < vectors; ++ov) {
        const int64_t c0 = ov * kLanes;
        const vf b0 = __builtin_shuffle(load(bias + c0), order);
        vf v[1][NP];
#pragma GCC unroll 14
        for (int p = 0; p < NP; ++p) v[0][p] = b0;
        for_each_filter_row(
            g, rows, ox, c0, wpk + ov * taps * gw * kLanes,
            [&](const float* in, const float* wt, auto s) __attribute__((always_inline)) {
              narrow_row<G, NP, decltype(s)::value, Repeat>(v, in, wt, pitch, 0);
            },
            [&](const float* in, const float* wt, int64_t px) __attribute__((always_inline)) {
              narrow_tap<G, NP, Repeat>(v, in, wt, px, 0);
            });
#pragma GCC unroll 14
        for (int p = 0; p < NP; ++p) {
          if (p < valid) {
            const int64_t at = (ox + p) * g.c + c0;
            store_block(o + at, __builtin_shuffle(v[0][p], back), rr ? rr + at : nullptr, g.c - c0, act);
          }
        }
      }
    }
    if (sums) sums->add(i * g.ow, g.ow, o, g.c, 0, g.c);
  }
}

// One function per group width and pixel block: one for all six took GCC minutes to build.
#define CNNFAST_NARROW_ROWS(G, NP)                                                                    \
  void narrow_rows_##G##_##NP(const float* x, const float* wpk, const float* bias, const float* res, \
                              float* out, const GroupedGeometry& g, Activation act, ChannelSums* sums, \
                              int64_t i0, int64_t i1) {                                               \
    narrow_rows<G, NP>(x, wpk, bias, res, out, g, act, sums, i0, i1);                               \
  }
CNNFAST_NARROW_ROWS(2, 7)
CNNFAST_NARROW_ROWS(2, 14)
CNNFAST_NARROW_ROWS(4, 7)
CNNFAST_NARROW_ROWS(4, 14)
CNNFAST_NARROW_ROWS(8, 7)
CNNFAST_NARROW_ROWS(8, 14)
#undef CNNFAST_NARROW_ROWS

}  // namespace

#pragma GCC diagnostic pop
#pragma GCC pop_options

bool grouped_narrow_available() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return ok;
}

void grouped_narrow_rows(const float* x, const float* wpk, const float* bias, const float* res, float* out,
                         const GroupedGeometry& g, Activation act, ChannelSums* sums, int64_t i0, int64_t i1) {
  TORCH_INTERNAL_ASSERT(grouped_narrow_available() && (g.gw == 2 || g.gw == 4 || g.gw == 8));
  const bool seven = g.pixels == 7;
  switch (g.gw) {
    case 8:
      return seven ? narrow_rows_2_7(x, wpk, bias, res, out, g, act, sums, i0, i1)
                   : narrow_rows_2_14(x, wpk, bias, res, out, g, act, sums, i0, i1);
    case 4:
      return seven ? narrow_rows_4_7(x, wpk, bias, res, out, g, act, sums, i0, i1)
                   : narrow_rows_4_14(x, wpk, bias, res, out, g, act, sums, i0, i1);
    default:
      return seven ? narrow_rows_8_7(x, wpk, bias, res, out, g, act, sums, i0, i1)
                   : narrow_rows_8_14(x, wpk, bias, res, out, g, act, sums, i0, i1);
  }
}

#else  // no AVX-512 build of this kernel: the router sends narrow groups elsewhere

bool grouped_narrow_available() { return false; }

void grouped_narrow_rows(const float*, const float*, const float*, const float*, float*, const GroupedGeometry&,
                         Activation, ChannelSums*, int64_t, int64_t) {
  TORCH_INTERNAL_ASSERT(false, "cnnfast: the narrow grouped kernel is not built for this CPU");
}

#endif

}  // namespace cnnfast
