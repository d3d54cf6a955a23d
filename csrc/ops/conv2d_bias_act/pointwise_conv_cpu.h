// A direct 1x1 convolution for channels_last fp32 maps with small or L2-resident weights (see pointwise_conv_cpu.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "cnnfast/activation.h"

namespace cnnfast {

// True when the conv is 1x1, stride 1, no padding or dilation, one group, fp32, and of a size
// (out_shape, weight) where pointwise_conv_cpu was measured faster than oneDNN.
bool pointwise_direct_supported(const at::Tensor& x, const at::Tensor& weight, at::IntArrayRef stride,
                                at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                                at::IntArrayRef out_shape);

// act(conv1x1(x) + bias + residual) into a new channels_last tensor of shape out_shape; x must be
// a dense channels_last tensor.
at::Tensor pointwise_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                              const std::optional<at::Tensor>& residual, Activation act, at::IntArrayRef out_shape);

}  // namespace cnnfast
