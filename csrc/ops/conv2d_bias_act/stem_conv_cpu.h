// A direct convolution for the RGB stems of CNNs (few input channels, up to 64 output channels)
// on channels_last fp32 maps (see stem_conv_cpu.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "cnnfast/activation.h"
#include "conv_engine/geometry.h"

namespace cnnfast {

// The geometry this kernel computes at all: groups 1, at most kStemMaxInputChannels input and
// kStemMaxOutputChannels output channels.
constexpr int64_t kStemMaxInputChannels = 4;
constexpr int64_t kStemMaxOutputChannels = 64;
bool stem_direct_can_run(const engine::ConvGeometry& geo);

// Where it is faster than oneDNN, on a CPU with AVX-512 (avx512) or without it, at the AVX2 build
// (the measurements beside it, in stem_conv_cpu.cpp).
bool stem_direct_supported(const engine::ConvGeometry& geo, bool avx512);

// act(conv2d(x) + bias + residual) into a new channels_last tensor of shape out_shape; x must be a
// dense channels_last tensor.
at::Tensor stem_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                         at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                         const std::optional<at::Tensor>& residual, Activation act, at::IntArrayRef out_shape);

}  // namespace cnnfast
