// Grouped convolution with narrow groups (RegNet's 8 channels per group, ResNeXt's 4 to 32),
// computed directly in channels_last. Through oneDNN these ran at 2-3.4x OpenVINO's time in
// RegNetY-400MF (the per-layer profile against its counters), and the conv engine's microkernel
// wastes its 64-wide N on 8-channel groups. Each 16-lane vector of output channels accumulates
// its own groups' inputs, every multiply-add real (no zero weights between groups: a NaN in one
// group stays out of the others, as in eager PyTorch):
// - groups of 2, 4 or 8 channels (the width divides 16): the vector spans 16 / width groups, its
//   lanes interleaved so that one broadcast feeds them all (grouped_narrow_cpu.cpp);
// - groups of 16 to 64 channels: the vector lies in one group; each input channel of that group is
//   broadcast to all lanes (grouped_wide_cpu.cpp).
// Both copy the input rows a task's output rows read into zero-padded rows (padding columns and
// the channels past C are zeros), so the tap loops have no bounds tests, and apply bias, residual
// and activation as the accumulators are stored. This file: which convs they take, the packed
// weight, the split between threads.
#include "ops/conv2d_bias_act/grouped_conv_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/channel_sums.h"
#include "common/cpu_isa.h"
#include "common/math.h"
#include "common/prepacked_weights.h"
#include "common/vec16_cpu.h"
#include "ops/conv2d_bias_act/direct_conv_cpu.h"
#include "ops/conv2d_bias_act/grouped_narrow_cpu.h"
#include "ops/conv2d_bias_act/grouped_wide_cpu.h"

namespace cnnfast {

namespace {

using vec16::kLanes;

// Groups of 16 at stride 1 on maps up to 14 wide over 32M multiply-adds: oneDNN's (see below).
constexpr int64_t kWide16BlockedMaxWidth = 14;
constexpr int64_t kWide16BlockedMinMacs = 32 * 1000 * 1000;

// The narrow loop's build for the running level (cpu_isa.h): AVX-512's, AVX2's, or none.
enum class NarrowBuild { None, Avx512, Avx2 };

NarrowBuild narrow_build() {
  const CpuLevel level = cpu_level();
  if (level == CpuLevel::V4 && grouped_narrow_available()) return NarrowBuild::Avx512;
  if (level != CpuLevel::Baseline && grouped_narrow_avx2_available()) return NarrowBuild::Avx2;
  return NarrowBuild::None;
}

}  // namespace

bool grouped_direct_can_run(const engine::ConvGeometry& geo) {
  const int64_t gw = geo.cg();
  return geo.groups > 1 && gw > 1 && geo.kg() == gw && geo.n > 0 &&
         ((kLanes % gw == 0 && narrow_build() != NarrowBuild::None) ||
          (gw % kLanes == 0 && gw <= kMaxWideGroup && geo.r <= kMaxWideFilterRows));
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

// Without AVX-512, against oneDNN's AVX2 grouped convs (AMD EPYC Zen 4 run as an AVX2 machine:
// the narrow loop's AVX2 build, oneDNN capped with ONEDNN_MAX_CPU_ISA=AVX2, 2 threads, bias + ReLU),
// every narrow-group layer of RegNetY-400MF and ResNeXt-50: since its lane reordering moved into
// registers (2026-12-07, second stop; grouped_narrow_avx2_cpu.cpp) the loop took 0.55-0.82x
// oneDNN's time alternated call by call on groups of 8 (RegNetY's 104, 208 and 440 channels at
// stride 1 and 2, ResNeXt-50's 256 on 28x28 and from 56x56 at stride 2, batch 1 and 8) and
// 0.39-0.40x on groups of 4 (ResNeXt-50's 128 channels). In the model, every RegNetY-400MF grouped
// conv on this loop against the rule before (groups of 8 only onto 7 columns or fewer: there
// oneDNN's times had differed 1.1-2.9x between timing methods), one process each, alternated three
// times: 0.89x the time at batch 1, 0.93x at batch 8. The wide groups' loop is 16-lane code only
// (its AVX2 clone moves its vectors through the stack): oneDNN.
bool grouped_direct_supported_avx2(const engine::ConvGeometry& geo) {
  return grouped_direct_can_run(geo) && geo.cg() < kLanes && grouped_narrow_avx2_available();
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
  // 14-pixel blocks unless 7 fit the row better (7x7 maps) or 4 vectors need the registers.
  const bool fourteen = round_up<int64_t>(g.ow, 14) - g.ow <= round_up<int64_t>(g.ow, 7) - g.ow;
  g.pixels = fourteen && gw <= 2 * kLanes ? 14 : 7;
  if (wide) {
    // Rows split into channel chunks (whole groups) until both threads have 8 items or more.
    const int64_t want = 8 * at::get_num_threads();
    while (g.n * g.oh * g.chunks < want && groups % (2 * g.chunks) == 0) g.chunks *= 2;
  }
  // Wide enough for whole blocks of g.pixels, or of 4 (the AVX2 narrow loop's strided rows).
  const int64_t blocks_w = std::max(round_up(g.ow, g.pixels), round_up<int64_t>(g.ow, 4));
  g.row_w = std::max(g.w + 2 * g.pw, (blocks_w - 1) * g.sw + (g.kw - 1) * g.dw + 1);
  // Packed once per weight. Narrow groups: (C, gw, KH, KW) -> (Cp / 16, KH * KW, gw, 16), for
  // each output vector and tap slot j's weights of its 16 output channels in interleaved lane
  // order (interleaved_channels; zeros past C). Wide groups: (groups, KH * KW, gw inputs, gw
  // outputs), input j's weights for the group's outputs adjacent.
  const at::Tensor wpk = prepacked_weight(weight, PackedLayout::Grouped, 0, [cp, groups, wide](const at::Tensor& wt) {
    const int64_t k = wt.size(0), slots = wt.size(1), taps = wt.size(2) * wt.size(3);
    if (wide) return wt.reshape({groups, k / groups, slots, taps}).permute({0, 3, 2, 1}).contiguous();
    const at::Tensor w = at::constant_pad_nd(wt.reshape({k, slots, taps}), {0, 0, 0, 0, 0, cp - k});
    std::vector<int64_t> lane_channel(kLanes);
    for (int64_t l = 0; l < kLanes; ++l) lane_channel[l] = grouped_narrow_lane_channel(l, slots);
    const at::Tensor order = at::tensor(lane_channel, at::kLong);
    return w.reshape({cp / kLanes, kLanes, slots, taps}).index_select(1, order).permute({0, 3, 2, 1}).contiguous();
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
      const auto narrow = narrow_build() == NarrowBuild::Avx512 ? grouped_narrow_rows : grouped_narrow_rows_avx2;
      narrow(xp, wpk.const_data_ptr<float>(), b.data(), io.residual, io.data, g, io.store_act, sums, i0, i1);
    }
  });
  return io.out;
}

}  // namespace cnnfast
