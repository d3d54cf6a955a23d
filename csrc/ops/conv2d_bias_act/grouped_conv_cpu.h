// A direct grouped convolution for channels_last fp32 maps with narrow groups (see
// grouped_conv_cpu.cpp): RegNet's 8-channel groups, ResNeXt's 4 to 32.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "cnnfast/activation.h"
#include "conv_engine/geometry.h"

namespace cnnfast {

class ChannelSums;

// Whether grouped_conv_cpu can compute geo at all: more than one group and not depthwise, as many
// output as input channels per group, and a group width that divides 16 or is a multiple of it.
bool grouped_direct_can_run(const engine::ConvGeometry& geo);

// True where grouped_conv_cpu is faster than oneDNN (fp32 channels_last: checked by the router).
bool grouped_direct_supported(const engine::ConvGeometry& geo);

// The same without AVX-512, where only the narrow groups' loop has a build of its own (AVX2).
bool grouped_direct_supported_avx2(const engine::ConvGeometry& geo);

// act(grouped_conv(x) + bias + residual) into a new channels_last tensor of shape out_shape;
// x must be a dense channels_last tensor and grouped_direct_can_run true. sums (optional): the
// output's per-channel sums, added row by row as each row is stored.
at::Tensor grouped_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                            at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                            const std::optional<at::Tensor>& residual, Activation act, at::IntArrayRef out_shape,
                            ChannelSums* sums = nullptr);

}  // namespace cnnfast
