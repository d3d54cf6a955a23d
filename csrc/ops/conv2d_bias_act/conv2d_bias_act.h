// Shape rules and argument checks for conv2d_bias_act, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/MemoryFormat.h>

#include <vector>

namespace cnnfast {

// Raises a ValueError/TypeError naming the offending argument; returns the output shape.
std::vector<int64_t> check_conv2d_bias_act(const at::Tensor& x, const at::Tensor& weight,
                                           const std::optional<at::Tensor>& bias,
                                           at::IntArrayRef stride, at::IntArrayRef padding,
                                           at::IntArrayRef dilation, int64_t groups,
                                           const std::optional<at::Tensor>& residual);

// The output keeps x's layout: channels_last only when x is channels_last and not also plain
// contiguous (1x1 maps are both). cnnfast/ops/conv2d_bias_act.py's fake kernel mirrors this rule.
inline c10::MemoryFormat output_memory_format(const at::Tensor& x) {
  return (x.is_contiguous(c10::MemoryFormat::ChannelsLast) && !x.is_contiguous())
             ? c10::MemoryFormat::ChannelsLast
             : c10::MemoryFormat::Contiguous;
}

// Returns out when its strides already are those of `format`, else a copy that has them, so the
// real kernels give exactly the strides the fake kernel promised.
at::Tensor with_memory_format(const at::Tensor& out, c10::MemoryFormat format);

}  // namespace cnnfast
