// A direct depthwise convolution for channels_last fp32 maps (see depthwise_conv_cpu.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "cnnfast/activation.h"
#include "conv_engine/geometry.h"

namespace cnnfast {

// True when geo is a depthwise conv with one filter per channel, small enough that
// depthwise_conv_cpu is faster than oneDNN (fp32 channels_last: checked by the router).
bool depthwise_direct_supported(const engine::ConvGeometry& geo);

// act(depthwise_conv(x) + bias + residual) into a new channels_last tensor of shape out_shape;
// x must be a dense channels_last tensor.
at::Tensor depthwise_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                              at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                              const std::optional<at::Tensor>& residual, Activation act,
                              at::IntArrayRef out_shape);

}  // namespace cnnfast
