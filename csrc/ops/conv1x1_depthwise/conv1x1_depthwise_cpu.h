// conv1x1_depthwise's CPU kernel, for the ops that build on it (conv1x1_depthwise_mean).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <optional>

namespace cnnfast {

class ChannelSums;

// act2(depthwise_conv(act1(conv1x1(x) + bias1)) + bias2), fused where the rule says (fuse_rule.h),
// else the two convs. sums (optional; made for the output's n, channels and pixels): the depthwise
// kernel adds the output's per-channel sums as it stores each row, fused or apart (where the
// depthwise conv runs on a kernel that can: conv2d_bias_act_cpu.h), and sums->filled is set.
at::Tensor conv1x1_depthwise_cpu(const at::Tensor& x, const at::Tensor& weight1, const std::optional<at::Tensor>& bias1,
                                 c10::string_view act1, const at::Tensor& weight2,
                                 const std::optional<at::Tensor>& bias2, at::IntArrayRef stride,
                                 at::IntArrayRef padding, at::IntArrayRef dilation, c10::string_view act2,
                                 ChannelSums* sums);

}  // namespace cnnfast
