// The grouped kernel's loop for groups of 16, 32, 48 or 64 channels (grouped_wide_cpu.cpp), called
// by grouped_conv_cpu.
#pragma once

#include <cstdint>

#include "cnnfast/activation.h"
#include "ops/conv2d_bias_act/grouped_geometry.h"

namespace cnnfast {

class ChannelSums;

// Work items [i0, i1) of (channel chunk, image, output row), chunk-major; g.pixels and g.chunks
// set. wpk: the weight packed (groups, KH * KW, gw inputs, gw outputs); bias: C floats; res
// (optional) and out: dense channels_last. sums (optional): each finished row added.
void grouped_wide_rows(const float* x, const float* wpk, const float* bias, const float* res, float* out,
                       const GroupedGeometry& g, Activation act, ChannelSums* sums, int64_t i0, int64_t i1);

}  // namespace cnnfast
