// Grouped convolution with groups of 16-64 channels (ResNeXt-50's 512- and 1024-channel stages:
// 32 groups of 16 and 32), the loop grouped_conv_cpu calls for them. Each 16-lane vector of output
// channels lies in one group, and each input channel of the group is broadcast to all lanes; a
// block of 7 or 14 output pixels and all of the group's output vectors accumulate together.
// Through oneDNN these layers ran at 1.6-2.8x OpenVINO's time in ResNeXt-50 (`cnnfast profile`,
// AMD EPYC Zen 5, 2026-12-05), whose blocked kernels keep one layout between layers.
#include "ops/conv2d_bias_act/grouped_wide_cpu.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/channel_sums.h"
#include "common/cpu_clones.h"
#include "common/math.h"
#include "common/vec16_cpu.h"
#include "ops/conv2d_bias_act/direct_conv_cpu.h"

namespace cnnfast {

namespace {

using vec16::kLanes;
using vec16::load;
using vec16::vf;

// Wide groups (16 to 64 channels): a block of P output pixels and all V = gw / 16 output vectors
// of one group, P * V <= 28 accumulators. Each weight vector loaded feeds P pixels and each input
// broadcast feeds V vectors, so the loop is bound by the FMAs; the 8 pixels x 1 vector form this
// replaced (a broadcast per FMA, half of a 14-pixel row's second block empty) ran at 0.97-1.24x
// oneDNN's time on ResNeXt's groups of 16 and 32 (cpu_grouped_layers.md). Every offset is a
// compile-time constant (pixels GW floats apart in the padded rows, the weights of input j for the
// V vectors adjacent), so no index register is needed per pixel.
// `in`: the first pixel's input for this tap in the group's padded row; `wt`: the tap's weights.
template <int P, int V>
inline __attribute__((always_inline)) void wide_tap(vf (&v)[P][V], const float* in, const float* wt) {
  constexpr int kGw = V * kLanes;
#pragma GCC unroll 2
  for (int j = 0; j < kGw; ++j) {
    vf wv[V];
#pragma GCC unroll 4
    for (int q = 0; q < V; ++q) wv[q] = load(wt + j * kGw + q * kLanes);
#pragma GCC unroll 14
    for (int p = 0; p < P; ++p) {
      const float xs = in[p * kGw + j];
#pragma GCC unroll 4
      for (int q = 0; q < V; ++q) v[p][q] += xs * wv[q];
    }
  }
}

// One group's block of P output pixels from column ox: every tap, then the store of the `valid`
// real pixels. rows[t]: the group's padded input row for filter row t, in phases (see wide_rows);
// wt: the group's packed weights (taps, gw inputs, gw outputs); o/rr: the block's first output
// (and residual) pixel at the group's first channel.
template <int P, int V>
inline __attribute__((always_inline)) void wide_block(const float* const* rows, const float* wt, const float* bias,
                                                      const float* rr, float* o, const GroupedGeometry& g, int64_t ox,
                                                      int64_t phase_len, int64_t valid, Activation act) {
  constexpr int kGw = V * kLanes;
  vf v[P][V];
  fill_with_bias(v, bias);
  for (int64_t t = 0; t < g.kh; ++t) {
    for (int64_t k = 0; k < g.kw; ++k) {
      // Output pixel ox + p reads padded column (ox + p) * sw + k * dw: phase (k * dw) % sw,
      // position ox + p + (k * dw) / sw within it, so consecutive pixels are adjacent.
      const int64_t col = k * g.dw;
      const float* in = rows[t] + ((col % g.sw) * phase_len + ox + col / g.sw) * kGw;
      wide_tap<P, V>(v, in, wt + (t * g.kw + k) * kGw * kGw);
    }
  }
  // Out through an L1 tile and one store loop (see stem_conv_cpu.cpp): stored from registers,
  // each of the six shapes inlined every activation's code P * V times (this file compiled for
  // 6.7 minutes); the tile costs one store and one load per 144+ FMAs.
  alignas(64) float tile[P][kGw];
#pragma GCC unroll 14
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 4
    for (int q = 0; q < V; ++q) vec16::store(&tile[p][q * kLanes], v[p][q]);
  }
  const int64_t n = std::min<int64_t>(valid, P);
#pragma GCC unroll 1
  for (int64_t p = 0; p < n; ++p) {
#pragma GCC unroll 1
    for (int q = 0; q < V; ++q) {
      store_full_block(o + p * g.c + q * kLanes, load(&tile[p][q * kLanes]),
                       rr ? rr + p * g.c + q * kLanes : nullptr, act);
    }
  }
}

// One pixel of every group of a chunk into the groups' padded rows (dst: group 0's, the others
// group_rows floats on), from `from` (the pixel's first channel of the chunk; null: a padding
// pixel, zeros). V vectors per group, unrolled: as a loop over the group's width GCC made it a
// memmove call per group, 6-9% of the kernel's time.
template <int V>
inline __attribute__((always_inline)) void copy_groups(float* dst, int64_t group_rows, const float* from,
                                                       int64_t groups) {
  for (int64_t q = 0; q < groups; ++q, dst += group_rows) {
#pragma GCC unroll 4
    for (int c = 0; c < V; ++c) vec16::store(dst + c * kLanes, from ? load(from + (q * V + c) * kLanes) : vf{});
  }
}

}  // namespace

// Work items [i0, i1) of (channel chunk, image, output row), groups of 16 to 64 channels.
// Chunk-major: a thread's items share one chunk's weights, so at batch 1 (where rows are split
// into chunks to give both threads equal work) each thread streams only its share of the filter.
// The filter's input rows are copied group by group into zero-padded rows, each group's pixels
// dense (gw floats apart; in the chunk's own layout a group's pixels lay 1-2 KB apart, in a few
// L1 sets) and split by column phase: at stride s, column c goes to phase c % s, position c / s,
// so the pixels a tap reads are adjacent at every stride. The rows stay in kh slots between
// items (slot iy % kh at dilation 1): a 3x3 stride-1 item copies one new row, not three (the
// copies took ~17% of the time of 512 channels on 14x14 at batch 8; perf, AMD EPYC Zen 5).
CNNFAST_CPU_CLONES void grouped_wide_rows(const float* __restrict__ x, const float* __restrict__ wpk,
                                          const float* __restrict__ bias, const float* __restrict__ res,
                                          float* __restrict__ out, const GroupedGeometry& g, Activation act,
                                          ChannelSums* sums, int64_t i0, int64_t i1) {
  const int64_t cw = g.c / g.chunks, gw = g.gw, taps = g.kh * g.kw, per_chunk = g.n * g.oh;
  const int64_t phase_len = ceil_div(g.row_w, g.sw), row_len = g.sw * phase_len * gw;
  const int64_t group_rows = g.kh * row_len, groups = cw / gw, v_count = gw / kLanes;
  thread_local std::vector<float> rows_mem;
  if (static_cast<int64_t>(rows_mem.size()) < groups * group_rows) rows_mem.resize(groups * group_rows);
  float* const rows = rows_mem.data();
  // What each slot holds: (chunk, image, input row) as one number; -1 for nothing yet.
  thread_local std::vector<int64_t> slot_tag;
  slot_tag.assign(g.kh, -1);
  thread_local std::vector<const float*> tap_rows;
  tap_rows.resize(g.kh);
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t chunk = i / per_chunk, img = i % per_chunk / g.oh, oy = i % g.oh, c_lo = chunk * cw;
    for (int64_t t = 0; t < g.kh; ++t) {
      const int64_t iy = oy * g.sh - g.ph + t * g.dh;
      const int64_t slot = g.dh == 1 ? ((iy % g.kh) + g.kh) % g.kh : t;
      const int64_t tag = (chunk * g.n + img) * (g.h + 2 * g.ph + g.kh * g.dh) + (iy + g.ph);
      tap_rows[t] = rows + slot * row_len;  // plus the group's offset, below
      if (slot_tag[slot] == tag) continue;
      slot_tag[slot] = tag;
      const bool inside = iy >= 0 && iy < g.h;
      const float* src = x + ((img * g.h + (inside ? iy : 0)) * g.w) * g.c + c_lo;
      for (int64_t col = 0; col < g.sw * phase_len; ++col) {
        const int64_t ix = col - g.pw;
        const bool real = inside && ix >= 0 && ix < g.w;
        const int64_t at = slot * row_len + ((col % g.sw) * phase_len + col / g.sw) * gw;
        const float* from = real ? src + ix * g.c : nullptr;
        switch (v_count) {
          case 1: copy_groups<1>(rows + at, group_rows, from, groups); break;
          case 2: copy_groups<2>(rows + at, group_rows, from, groups); break;
          case 3: copy_groups<3>(rows + at, group_rows, from, groups); break;
          default: copy_groups<4>(rows + at, group_rows, from, groups); break;
        }
      }
    }
    float* const o = out + (img * g.oh + oy) * g.ow * g.c;
    const float* const rr = res ? res + (img * g.oh + oy) * g.ow * g.c : nullptr;
    for (int64_t q = 0; q < groups; ++q) {
      const int64_t gc = c_lo + q * gw;
      const float* grp_rows[kMaxWideFilterRows];
      for (int64_t t = 0; t < g.kh; ++t) grp_rows[t] = tap_rows[t] + q * group_rows;
      const float* wt = wpk + gc * taps * gw;
      for (int64_t ox = 0; ox < g.ow; ox += g.pixels) {
        float* ob = o + ox * g.c + gc;
        const float* rb = rr ? rr + ox * g.c + gc : nullptr;
        const int64_t valid = std::min(g.pixels, g.ow - ox);
        switch (g.pixels * 8 + v_count) {
          case 14 * 8 + 1: wide_block<14, 1>(grp_rows, wt, bias + gc, rb, ob, g, ox, phase_len, valid, act); break;
          case 14 * 8 + 2: wide_block<14, 2>(grp_rows, wt, bias + gc, rb, ob, g, ox, phase_len, valid, act); break;
          case 7 * 8 + 1: wide_block<7, 1>(grp_rows, wt, bias + gc, rb, ob, g, ox, phase_len, valid, act); break;
          case 7 * 8 + 2: wide_block<7, 2>(grp_rows, wt, bias + gc, rb, ob, g, ox, phase_len, valid, act); break;
          case 7 * 8 + 3: wide_block<7, 3>(grp_rows, wt, bias + gc, rb, ob, g, ox, phase_len, valid, act); break;
          default: wide_block<7, 4>(grp_rows, wt, bias + gc, rb, ob, g, ox, phase_len, valid, act); break;
        }
      }
    }
    if (sums) sums->add((img * g.oh + oy) * g.ow, g.ow, o + c_lo, g.c, c_lo, cw);
  }
}

}  // namespace cnnfast
