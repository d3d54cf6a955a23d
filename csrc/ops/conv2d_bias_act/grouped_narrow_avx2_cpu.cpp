// The grouped kernel's loop for groups of 2, 4 or 8 channels built for AVX2 (16 registers of 8
// lanes), called by grouped_conv_cpu where the AVX-512 loop (grouped_narrow_cpu.cpp) cannot run.
// It reads the same packed weight and stages the input rows in the same interleaved order: a
// 16-lane vector of output channels spans G = 16 / gw groups, lane i * G + h holding channel i of
// group h, so slot j of those groups is G adjacent floats of a staged row. Here each 16-lane
// vector is computed as two 8-lane halves, one after the other, over blocks of 7 output pixels:
// 7 accumulators, the 3 taps' weights of a filter row and a broadcast take 11 of the 16 registers
// (the AVX-512 loop's 14-pixel blocks would need 28); 3-wide rows at stride 2 take 4 pixels with
// both halves at once instead (accumulate). A half's lanes hold 8 / G channels of each
// of the same G groups, so the broadcast of the G floats is the AVX-512 loop's, at half the width:
// vbroadcastsd (G = 2), vbroadcastf128 (G = 4), a plain load (G = 8). Bias, residual and
// activation are applied as a block's accumulators are put back in channel order (in registers:
// Permute16) and stored. On RegNetY's and ResNeXt-50's narrow-group layers this loop runs at
// 0.39-0.90x oneDNN's AVX2 time, 30-60% of the FMA peak (grouped_conv_cpu.cpp; AMD EPYC Zen 4 run
// as an AVX2 machine, results/cpu_avx2_kernels_zen4.md).
#include "ops/conv2d_bias_act/grouped_narrow_cpu.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/channel_sums.h"
#include "common/vec_activation.h"
#include "ops/conv2d_bias_act/direct_conv_cpu.h"

namespace cnnfast {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(CNNFAST_NO_CPU_CLONES)
#define CNNFAST_GROUPED_NARROW_AVX2 1

#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#pragma GCC optimize("fp-contract=fast")  // one FMA per multiply-add
#include <immintrin.h>

}  // namespace cnnfast
#include "ops/conv2d_bias_act/grouped_narrow_rows.h"  // inside the target region: see there
namespace cnnfast {

namespace {

constexpr int kLanes = 16;  // the packed weight's and the staged rows' vector width
constexpr int kHalf = 8;    // this loop's
constexpr int kPixels = 7;  // output pixels per register block
using vf = vec::vf<kHalf>;

// The G floats at p repeated over 8 lanes, with one broadcast load (narrow_row's Bcast).
struct Repeat {
  template <int G>
  static inline __attribute__((always_inline)) vf at(const float* p) {
    if constexpr (G == 2) {
      return reinterpret_cast<vf>(_mm256_castpd_ps(_mm256_broadcast_sd(reinterpret_cast<const double*>(p))));
    } else if constexpr (G == 4) {
      return reinterpret_cast<vf>(_mm256_broadcast_ps(reinterpret_cast<const __m128*>(p)));
    } else {
      return vec::load<vf>(p);
    }
  }
};

// Output pixels per block: 7 for one half of the vector at a time (7 accumulators, 3 weights and a
// broadcast: 11 of the 16 registers); 4 with both halves at once on 3-wide rows at stride 2, where
// one half over 7 pixels gave 1.4 multiply-adds per broadcast and loaded each broadcast twice:
// there each broadcast feeds up to 6 (8 accumulators, 6 weights and a broadcast: 15 registers).
constexpr int kStridedPixels = 4;

// The block at column ox of the 16-lane vector at channel c0, halves [h0, h0 + H) (NP pixels),
// into `lanes` (each pixel's 16 accumulators in lane order), starting from the bias.
template <int G, int NP, int H>
inline __attribute__((always_inline)) void accumulate(float (&lanes)[kPixels][kLanes], const GroupedGeometry& g,
                                                      const float* const* rows, int64_t ox, int64_t c0,
                                                      const float* wvec, const float* bias_lanes, int h0) {
  vf v[H][NP];
#pragma GCC unroll 2
  for (int h = 0; h < H; ++h) {
    const vf b0 = vec::load<vf>(bias_lanes + c0 + (h0 + h) * kHalf);
#pragma GCC unroll 7
    for (int p = 0; p < NP; ++p) v[h][p] = b0;
  }
  for_each_filter_row(
      g, rows, ox, c0, wvec,
      [&](const float* in, const float* wt, auto s) __attribute__((always_inline)) {
        narrow_row<G, NP, decltype(s)::value, Repeat>(v, in, wt + h0 * kHalf, g.cp, kHalf);
      },
      [&](const float* in, const float* wt, int64_t px) __attribute__((always_inline)) {
        narrow_tap<G, NP, Repeat>(v, in, wt + h0 * kHalf, px, kHalf);
      });
#pragma GCC unroll 2
  for (int h = 0; h < H; ++h) {
#pragma GCC unroll 7
    for (int p = 0; p < NP; ++p) vec::store(lanes[p] + (h0 + h) * kHalf, v[h][p]);
  }
}

// 16 floats reordered in registers, dst[i] = src[from[i]]: each 8-float half gathers its values
// from both source halves (vpermps twice and a blend). Used both ways between channel order and
// the loop's lane order: staging an input pixel, and a pixel's accumulators on their way out.
// Through memory, lane by lane, the vector load that followed the scalar stores could not be
// forwarded from them and stalled: that load took a quarter of this loop's time, and staging
// (scalar) another tenth (perf, RegNetY's 208 channels on 14x14).
struct Permute16 {
  __m256i index[2];  // for each destination half: where (mod 8) each of its values comes from
  __m256 from_b[2];  // and whether that is the source's upper half
  explicit Permute16(const int* from) {
    alignas(32) int idx[2][kHalf];
    alignas(32) int hi[2][kHalf];
    for (int i = 0; i < kLanes; ++i) {
      idx[i / kHalf][i % kHalf] = from[i] % kHalf;
      hi[i / kHalf][i % kHalf] = from[i] >= kHalf ? -1 : 0;
    }
    for (int o = 0; o < 2; ++o) {
      index[o] = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx[o]));
      from_b[o] = _mm256_castsi256_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(hi[o])));
    }
  }
  inline __attribute__((always_inline)) void apply(const float* src, float* dst) const {
    const __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + kHalf);
#pragma GCC unroll 2
    for (int o = 0; o < 2; ++o) {
      _mm256_storeu_ps(dst + o * kHalf, _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, index[o]),
                                                        _mm256_permutevar8x32_ps(b, index[o]), from_b[o]));
    }
  }
};

// One input pixel staged as the AVX-512 loop stages it (StagedRows): each 16-channel block in
// interleaved order (lane l <- channel lane_channel[l]: to_lanes), channels past C zeros. Once per
// input pixel a task reads.
inline __attribute__((always_inline)) void stage_pixel(const float* __restrict__ s, float* __restrict__ d,
                                                       const GroupedGeometry& g, const int* lane_channel,
                                                       const Permute16& to_lanes) {
  for (int64_t c0 = 0; c0 < g.cp; c0 += kLanes) {
    const int64_t n = std::min<int64_t>(kLanes, g.c - c0);
    if (n == kLanes) {
      to_lanes.apply(s + c0, d + c0);
      continue;
    }
    for (int l = 0; l < kLanes; ++l) d[c0 + l] = lane_channel[l] < n ? s[c0 + lane_channel[l]] : 0.0f;
  }
}

// Work items [i0, i1) of (image, output row) for groups of 16 / G channels.
template <int G>
void narrow_rows(const float* __restrict__ x, const float* __restrict__ wpk, const float* __restrict__ bias,
                 const float* __restrict__ res, float* __restrict__ out, const GroupedGeometry& g, Activation act,
                 ChannelSums* sums, int64_t i0, int64_t i1) {
  constexpr int64_t gw = kLanes / G;
  const int64_t taps = g.kh * g.kw, vectors = g.cp / kLanes;
  int lane_channel[kLanes];
  for (int l = 0; l < kLanes; ++l) lane_channel[l] = static_cast<int>(grouped_narrow_lane_channel(l, gw));
  int lane_of[kLanes];  // the inverse: channel i's lane
  for (int l = 0; l < kLanes; ++l) lane_of[lane_channel[l]] = l;
  const Permute16 to_lanes(lane_channel), to_channels(lane_of);
  // The bias in the lanes' order, once.
  std::vector<float> bias_lanes(g.cp);
  for (int64_t c0 = 0; c0 < g.cp; c0 += kLanes) {
    for (int l = 0; l < kLanes; ++l) bias_lanes[c0 + l] = bias[c0 + lane_channel[l]];
  }
  StagedRows staged(g);
  // 3-wide rows at stride 2 (RegNet's and ResNeXt's strided layers): both halves over 4 pixels.
  const bool strided_rows = g.kw == 3 && g.dw == 1 && g.sw == 2;
  const int64_t step = strided_rows ? kStridedPixels : kPixels;
  alignas(64) float lanes[kPixels][kLanes];  // a block's accumulators, lane order
  alignas(64) float natural[kLanes];         // one pixel's, channel order (to_channels)
  for (int64_t i = i0; i < i1; ++i) {
    const float* const* rows =
        staged.rows_for(i, x, [&](const float* src, float* dst) __attribute__((always_inline)) {
          stage_pixel(src, dst, g, lane_channel, to_lanes);
        });
    float* const o = out + i * g.ow * g.c;
    const float* const rr = res ? res + i * g.ow * g.c : nullptr;
    for (int64_t ox = 0; ox < g.ow; ox += step) {
      const int64_t valid = std::min<int64_t>(step, g.ow - ox);
      for (int64_t ov = 0; ov < vectors; ++ov) {
        const int64_t c0 = ov * kLanes;
        const float* wvec = wpk + ov * taps * gw * kLanes;
        if (strided_rows) {
          accumulate<G, kStridedPixels, 2>(lanes, g, rows, ox, c0, wvec, bias_lanes.data(), 0);
        } else {
          accumulate<G, kPixels, 1>(lanes, g, rows, ox, c0, wvec, bias_lanes.data(), 0);
          accumulate<G, kPixels, 1>(lanes, g, rows, ox, c0, wvec, bias_lanes.data(), 1);
        }
        const int64_t n = std::min<int64_t>(kLanes, g.c - c0);
        for (int64_t p = 0; p < valid; ++p) {
          to_channels.apply(lanes[p], natural);
          const int64_t at = (ox + p) * g.c + c0;
          store_row<vf>(o + at, natural, rr ? rr + at : nullptr, n, act);
        }
      }
    }
    if (sums) sums->add(i * g.ow, g.ow, o, g.c, 0, g.c);
  }
}

}  // namespace

#pragma GCC pop_options

#endif

bool grouped_narrow_avx2_available() {
#ifdef CNNFAST_GROUPED_NARROW_AVX2
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

void grouped_narrow_rows_avx2(const float* x, const float* wpk, const float* bias, const float* res, float* out,
                              const GroupedGeometry& g, Activation act, ChannelSums* sums, int64_t i0, int64_t i1) {
#ifdef CNNFAST_GROUPED_NARROW_AVX2
  TORCH_INTERNAL_ASSERT(grouped_narrow_avx2_available() && (g.gw == 2 || g.gw == 4 || g.gw == 8));
  switch (g.gw) {
    case 8: return narrow_rows<2>(x, wpk, bias, res, out, g, act, sums, i0, i1);
    case 4: return narrow_rows<4>(x, wpk, bias, res, out, g, act, sums, i0, i1);
    default: return narrow_rows<8>(x, wpk, bias, res, out, g, act, sums, i0, i1);
  }
#else
  TORCH_INTERNAL_ASSERT(false, "cnnfast: the AVX2 narrow grouped kernel is not built for this CPU");
#endif
}

}  // namespace cnnfast
