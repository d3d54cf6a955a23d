// Grouped convolution with narrow groups (RegNet's 8 channels per group, ResNeXt's 4 to 32),
// computed directly in channels_last. Through oneDNN these ran at 2-3.4x OpenVINO's time in
// RegNetY-400MF (the per-layer profile against its counters), and the conv engine's microkernel
// wastes its 64-wide N on 8-channel groups. Here each 16-lane vector of output channels
// accumulates its own groups' inputs:
// - groups of 2, 4 or 8 channels (the width divides 16): the vector spans 16 / width groups, whose
//   inputs are the same 16 channels; for slot j of a group, a permute gives each lane its group's
//   j-th input, so every multiply-add is real (no zero weights between groups: a NaN in one group
//   stays out of the others, as in eager PyTorch);
// - groups of 16 to 64 channels: the vector lies in one group; each input channel of that group is
//   broadcast to all lanes (grouped_wide_cpu.cpp).
// The input rows a task's output row reads are first copied into zero-padded rows (padding
// columns and the channels past C are zeros), so the tap loop has no bounds tests; for narrow
// groups eight output pixels share each weight load, in eight independent FMA chains, and bias,
// residual and activation are applied as the accumulators are stored.
#include "ops/conv2d_bias_act/grouped_conv_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/channel_sums.h"
#include "common/cpu_clones.h"
#include "common/math.h"
#include "common/prepacked_weights.h"
#include "common/vec16_cpu.h"
#include "ops/conv2d_bias_act/direct_conv_cpu.h"
#include "ops/conv2d_bias_act/grouped_wide_cpu.h"

namespace cnnfast {

namespace {

using vec16::kLanes;
using vec16::load;
using vec16::vf;
using vec16::vi;  // 16 ints (common/vec16_activation.h): the permutes' lane indices

constexpr int64_t kPixels = 8;  // output pixels accumulated together (narrow groups)
// Groups of 16 at stride 1 on maps up to 14 wide over 32M multiply-adds: oneDNN's (see below).
constexpr int64_t kWide16BlockedMaxWidth = 14;
constexpr int64_t kWide16BlockedMinMacs = 32 * 1000 * 1000;

// The permute that gives lane l the j-th input of its group: channel (l / GW) * GW + j of the
// vector's 16.
template <int GW>
inline __attribute__((always_inline)) vi slot_index(int j) {
  vi idx;
#pragma GCC unroll 16
  for (int l = 0; l < kLanes; ++l) idx[l] = (l / GW) * GW + j;
  return idx;
}

// Accumulators v of eight output pixels and one 16-channel output vector, over one filter tap.
// `in` is the tap's input column for pixel 0 at the vector's channels (pitch between pixels),
// `wt` the tap's packed weights: GW vectors of 16 (slot j, output lane).
template <int GW>
inline __attribute__((always_inline)) void narrow_tap(vf (&v)[kPixels], const float* in, const float* wt, int64_t pitch) {
  vf xv[kPixels];
#pragma GCC unroll 8
  for (int p = 0; p < kPixels; ++p) xv[p] = load(in + p * pitch);
#pragma GCC unroll 8
  for (int j = 0; j < GW; ++j) {
    const vf wv = load(wt + j * kLanes);
    const vi idx = slot_index<GW>(j);
#pragma GCC unroll 8
    for (int p = 0; p < kPixels; ++p) v[p] += __builtin_shuffle(xv[p], idx) * wv;
  }
}

// One filter row of KW taps at stride S (dilation 1) for eight output pixels: the S * 7 + KW
// input columns they share are loaded once, and each column's permute for slot j feeds every tap
// that reads it (up to KW multiply-adds per permute instead of one: the permutes, not the FMAs,
// bounded narrow_tap on CPUs whose shuffle and FMA units share ports).
template <int GW, int KW, int S>
inline __attribute__((always_inline)) void narrow_row(vf (&v)[kPixels], const float* in, const float* wt, int64_t pitch) {
  constexpr int kCols = S * (kPixels - 1) + KW;  // <= 17 with 8 accumulators: in registers
  vf cols[kCols];
#pragma GCC unroll 17
  for (int q = 0; q < kCols; ++q) cols[q] = load(in + q * pitch);
#pragma GCC unroll 8
  for (int j = 0; j < GW; ++j) {
    const vi idx = slot_index<GW>(j);
    vf wk[KW];
#pragma GCC unroll 3
    for (int k = 0; k < KW; ++k) wk[k] = load(wt + (k * GW + j) * kLanes);
#pragma GCC unroll 17
    for (int q = 0; q < kCols; ++q) {
      const vf sq = __builtin_shuffle(cols[q], idx);
#pragma GCC unroll 3
      for (int k = 0; k < KW; ++k) {
        const int d = q - k;  // = S * p for the pixel p whose tap k reads column q
        if (d >= 0 && d % S == 0 && d / S < kPixels) v[d / S] += sq * wk[k];
      }
    }
  }
}

// Work items [i0, i1) of (image, output row), groups narrower than 16 channels. Everything is
// written out in this one function: it is built per x86-64 level, and helpers it called would be
// built for the baseline. With sums, each finished output row is added into them while in cache.
CNNFAST_CPU_CLONES void grouped_rows(const float* __restrict__ x, const float* __restrict__ wpk,
                                     const float* __restrict__ bias, const float* __restrict__ res,
                                     float* __restrict__ out, const GroupedGeometry& g, Activation act,
                                     ChannelSums* sums, int64_t i0, int64_t i1) {
  const int64_t pitch = g.cp, row = g.row_w * pitch, taps = g.kh * g.kw, vectors = g.cp / kLanes;
  thread_local std::vector<float> rows_mem;
  if (static_cast<int64_t>(rows_mem.size()) < g.kh * row) rows_mem.resize(g.kh * row);
  float* const rows = rows_mem.data();
  const int64_t px_pitch = g.sw * pitch;
  // 3-wide filter rows of narrow groups at stride 1 or 2 (every such conv of RegNet and ResNeXt)
  // share permutes between taps (narrow_row); any other geometry permutes per tap.
  const bool row_form = g.gw < kLanes && g.kw == 3 && g.dw == 1 && (g.sw == 1 || g.sw == 2);
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t img = i / g.oh, oy = i % g.oh;
    // The filter's input rows, zero-padded: columns [pw, pw + w) hold the row, channels past C
    // and the padding are zeros.
    for (int64_t t = 0; t < g.kh; ++t) {
      float* dst = rows + t * row;
      const int64_t iy = oy * g.sh - g.ph + t * g.dh;
      if (iy < 0 || iy >= g.h || g.cp != g.c) std::memset(dst, 0, sizeof(float) * row);
      if (iy < 0 || iy >= g.h) continue;
      const float* src = x + (img * g.h + iy) * g.w * g.c;
      if (g.cp == g.c) {
        std::memset(dst, 0, sizeof(float) * g.pw * pitch);
        std::memcpy(dst + g.pw * pitch, src, sizeof(float) * g.w * g.c);
        std::memset(dst + (g.pw + g.w) * pitch, 0, sizeof(float) * (g.row_w - g.pw - g.w) * pitch);
      } else {
        for (int64_t ix = 0; ix < g.w; ++ix) std::memcpy(dst + (g.pw + ix) * pitch, src + ix * g.c, sizeof(float) * g.c);
      }
    }
    float* const o = out + (img * g.oh + oy) * g.ow * g.c;
    const float* const rr = res ? res + (img * g.oh + oy) * g.ow * g.c : nullptr;
    for (int64_t ox = 0; ox < g.ow; ox += kPixels) {
      const int64_t valid = std::min(kPixels, g.ow - ox);
      for (int64_t ov = 0; ov < vectors; ++ov) {
        const int64_t c0 = ov * kLanes;
        const vf b0 = load(bias + c0);
        vf v[kPixels];
#pragma GCC unroll 8
        for (int p = 0; p < kPixels; ++p) v[p] = b0;
        for (int64_t t = 0; t < g.kh; ++t) {
          if (row_form) {
            const float* in = rows + t * row + ox * g.sw * pitch + c0;
            const float* wt = wpk + ((ov * taps + t * g.kw) * g.gw) * kLanes;
            switch (g.gw * 4 + g.sw) {
              case 2 * 4 + 1: narrow_row<2, 3, 1>(v, in, wt, pitch); break;
              case 2 * 4 + 2: narrow_row<2, 3, 2>(v, in, wt, pitch); break;
              case 4 * 4 + 1: narrow_row<4, 3, 1>(v, in, wt, pitch); break;
              case 4 * 4 + 2: narrow_row<4, 3, 2>(v, in, wt, pitch); break;
              case 8 * 4 + 1: narrow_row<8, 3, 1>(v, in, wt, pitch); break;
              default: narrow_row<8, 3, 2>(v, in, wt, pitch); break;
            }
            continue;
          }
          for (int64_t k = 0; k < g.kw; ++k) {
            const float* in = rows + t * row + (ox * g.sw + k * g.dw) * pitch + c0;
            const float* wt = wpk + ((ov * taps + t * g.kw + k) * g.gw) * kLanes;
            switch (g.gw) {
              case 2: narrow_tap<2>(v, in, wt, px_pitch); break;
              case 4: narrow_tap<4>(v, in, wt, px_pitch); break;
              default: narrow_tap<8>(v, in, wt, px_pitch); break;
            }
          }
        }
#pragma GCC unroll 8
        for (int p = 0; p < kPixels; ++p) {
          if (p < valid) {
            store_block(o + (ox + p) * g.c + c0, v[p], rr ? rr + (ox + p) * g.c + c0 : nullptr, g.c - c0, act);
          }
        }
      }
    }
    if (sums) sums->add((img * g.oh + oy) * g.ow, g.ow, o, g.c, 0, g.c);
  }
}

}  // namespace

bool grouped_direct_can_run(const engine::ConvGeometry& geo) {
  const int64_t gw = geo.cg();
  return geo.groups > 1 && gw > 1 && geo.kg() == gw && geo.n > 0 &&
         (kLanes % gw == 0 || (gw % kLanes == 0 && gw <= kMaxWideGroup && geo.r <= kMaxWideFilterRows));
}

// Where it pays, against oneDNN's grouped conv through ATen (2 threads, bias + ReLU, AMD EPYC
// Zen 5). Narrow groups (every grouped conv of ResNeXt-50 and RegNetY-400MF at batch 1 and 8,
// 2026-12-04, `benchmarks/conv_engine_layers.py --grouped`, results/cpu_grouped_layers.md): groups
// of 4 or 8 channels 0.33-0.90x of its time, except RegNet's 104 channels at stride 2 and batch 8
// (1.06x; 6.5 vectors, the last half empty; 0.72-1.14x over earlier runs: even). Wide groups
// (2026-12-05, alternated in one process, same results file): ResNeXt-50's groups of 16 at
// stride 2 0.68-0.90x, of 32 0.82-0.86x at batch 1 and 0.87-1.05x at batch 8; ResNeXt-101
// 32x8d's groups of 16 on 28x28 0.58-0.66x. Groups of 16 at stride 1 on 14x14 maps stay with
// oneDNN from 32M multiply-adds (ResNeXt-50's 512 channels at batch 8: 1.15-1.26x; its blocked
// kernel ran that one layer at ~1.15x this loop's FMA rate; at batch 1, 14.5M, 0.92-0.99x), and
// groups of 48 and 64 (0.93-1.16x). Measured on Zen 5 only; see docs/conv_engine.md.
bool grouped_direct_supported(const engine::ConvGeometry& geo) {
  if (!grouped_direct_can_run(geo)) return false;
  const int64_t gw = geo.cg();
  if (gw < kLanes || (gw == kLanes && (geo.sh > 1 || geo.sw > 1)) || gw == 2 * kLanes) return true;
  if (gw == kLanes) return geo.wo > kWide16BlockedMaxWidth || geo.macs() <= kWide16BlockedMinMacs;
  return false;
}

at::Tensor grouped_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                            at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                            const std::optional<at::Tensor>& residual, Activation act, at::IntArrayRef out_shape,
                            ChannelSums* sums) {
  const int64_t c = x.size(1), cp = round_up(c, kLanes), gw = c / groups;
  GroupedGeometry g{x.size(0),      c,         cp,         x.size(2),  x.size(3),  out_shape[2],
                    out_shape[3],   weight.size(2), weight.size(3), stride[0], stride[1], padding[0],
                    padding[1],     dilation[0],    dilation[1],    gw};
  const bool wide = gw >= kLanes;
  if (wide) {
    // 14-pixel blocks unless 7 fit the row better (7x7 maps) or 4 vectors need the registers.
    g.pixels = gw <= 2 * kLanes && round_up<int64_t>(g.ow, 14) - g.ow <= round_up<int64_t>(g.ow, 7) - g.ow ? 14 : 7;
    // Rows split into channel chunks (whole groups) until both threads have 8 items or more.
    const int64_t want = 8 * at::get_num_threads();
    while (g.n * g.oh * g.chunks < want && groups % (2 * g.chunks) == 0) g.chunks *= 2;
  }
  g.row_w = std::max(g.w + 2 * g.pw,
                     (round_up(g.ow, wide ? g.pixels : kPixels) - 1) * g.sw + (g.kw - 1) * g.dw + 1);
  // Packed once per weight. Narrow groups: (C, gw, KH, KW) -> (Cp / 16, KH * KW, gw, 16), for
  // each output vector and tap slot j's weights of its 16 output channels (zeros past C). Wide
  // groups: (groups, KH * KW, gw inputs, gw outputs), input j's weights for the group's outputs
  // adjacent.
  const at::Tensor wpk = prepacked_weight(weight, PackedLayout::Grouped, 0, [cp, groups, wide](const at::Tensor& wt) {
    const int64_t k = wt.size(0), slots = wt.size(1), taps = wt.size(2) * wt.size(3);
    if (wide) return wt.reshape({groups, k / groups, slots, taps}).permute({0, 3, 2, 1}).contiguous();
    const at::Tensor w = at::constant_pad_nd(wt.reshape({k, slots, taps}), {0, 0, 0, 0, 0, cp - k});
    return w.reshape({cp / kLanes, kLanes, slots, taps}).permute({0, 3, 2, 1}).contiguous();
  });
  const std::vector<float> b = padded_bias(bias, c, cp);
  DirectConvIo io(x, residual, act, out_shape);
  const float* xp = x.const_data_ptr<float>();
  // About 32k multiply-adds per task: enough to pay for a thread hand-off.
  const int64_t row_macs = g.ow * g.c / g.chunks * gw * g.kh * g.kw;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, row_macs));
  at::parallel_for(0, g.n * g.oh * g.chunks, grain, [&](int64_t i0, int64_t i1) {
    if (wide) {
      grouped_wide_rows(xp, wpk.const_data_ptr<float>(), b.data(), io.residual, io.data, g, io.store_act, sums, i0, i1);
    } else {
      grouped_rows(xp, wpk.const_data_ptr<float>(), b.data(), io.residual, io.data, g, io.store_act, sums, i0, i1);
    }
  });
  return io.out;
}

}  // namespace cnnfast
