// The grouped kernel's loop for groups of 2, 4 or 8 channels, called by grouped_conv_cpu: built for
// AVX-512 (grouped_narrow_cpu.cpp) and for AVX2 (grouped_narrow_avx2_cpu.cpp), on the same packed
// weight and staged rows.
#pragma once

#include <cstdint>

#include "cnnfast/activation.h"
#include "ops/conv2d_bias_act/grouped_geometry.h"

namespace cnnfast {

class ChannelSums;

// Whether this build and CPU run the loop (x86-64 with AVX-512 F/DQ/BW/VL, built by GCC).
bool grouped_narrow_available();

// Work items [i0, i1) of (image, output row); g.pixels (7 or 14) and g.row_w set. wpk: the weight
// packed (Cp / 16, KH * KW, gw, 16), each vector's lanes in interleaved order (see
// grouped_narrow_lane_channel); bias: Cp floats; res (optional) and out: dense channels_last.
// sums (optional): each finished row added.
void grouped_narrow_rows(const float* x, const float* wpk, const float* bias, const float* res, float* out,
                         const GroupedGeometry& g, Activation act, ChannelSums* sums, int64_t i0, int64_t i1);

// The AVX2 build: whether this build and CPU run it (x86-64 with AVX2 and FMA, built by GCC, not
// under sanitizers), and the loop, with grouped_narrow_rows' arguments (blocks of 7 pixels
// whatever g.pixels says; g.row_w as for either).
bool grouped_narrow_avx2_available();
void grouped_narrow_rows_avx2(const float* x, const float* wpk, const float* bias, const float* res, float* out,
                              const GroupedGeometry& g, Activation act, ChannelSums* sums, int64_t i0, int64_t i1);

// The channel (of its 16) that lane `lane` of a vector holds, for groups of gw channels: lane
// i * G + h holds channel h * gw + i, G = 16 / gw. The packed weight follows it.
constexpr int64_t grouped_narrow_lane_channel(int64_t lane, int64_t gw) {
  return (lane % (16 / gw)) * gw + lane / (16 / gw);
}

}  // namespace cnnfast
