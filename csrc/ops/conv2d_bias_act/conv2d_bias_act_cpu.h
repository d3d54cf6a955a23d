// conv2d_bias_act's CPU kernel, for the ops that build on it (conv2d_bias_act_mean).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <optional>

#include "cnnfast/activation.h"

namespace cnnfast {

class ChannelSums;

// act(conv2d(x, weight) + bias + residual), routed per layer (conv_engine/route.h). sums
// (optional; made for the output's n, channels and pixels): where the routed kernel can add the
// output's per-channel sums as it stores each block (the direct depthwise, 1x1 and grouped kernels
// and the conv engine: fp32 channels_last), it does and sums->filled is set; elsewhere sums is
// left untouched.
at::Tensor conv2d_bias_act_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                               at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                               int64_t groups, const std::optional<at::Tensor>& residual, c10::string_view act_name,
                               ChannelSums* sums);

// Whether oneDNN's post-op form of `act` gives eager PyTorch's result for a NaN: its ReLU, clip
// (ReLU6) and hard-sigmoid turn a NaN into 0 or 6, so the oneDNN route runs those as ATen's own
// pass after the conv instead (SiLU, sigmoid, hard-swish and tanh propagate NaN).
bool onednn_post_op_keeps_nan(Activation act);

}  // namespace cnnfast
