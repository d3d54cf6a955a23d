// Shape rules and argument checks for conv2d_bias_act, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/MemoryFormat.h>

#include "common/memory_format.h"

#include <vector>

namespace cnnfast {

// Raises a ValueError/TypeError naming the offending argument; returns the output shape.
std::vector<int64_t> check_conv2d_bias_act(const at::Tensor& x, const at::Tensor& weight,
                                           const std::optional<at::Tensor>& bias,
                                           at::IntArrayRef stride, at::IntArrayRef padding,
                                           at::IntArrayRef dilation, int64_t groups,
                                           const std::optional<at::Tensor>& residual);

// The output keeps x's layout: channels_last when x is channels_last and not also plain
// contiguous. A tensor that is both is a 1x1 map (kept NCHW) or a single-channel image (LeNet's
// input), which is taken as channels_last so the conv runs on oneDNN's fast NHWC path and hands
// on a channels_last map. cnnfast/ops/conv2d_bias_act.py's fake kernel mirrors this rule.
inline c10::MemoryFormat output_memory_format(const at::Tensor& x) {
  if (!x.is_contiguous(c10::MemoryFormat::ChannelsLast)) return c10::MemoryFormat::Contiguous;
  if (!x.is_contiguous()) return c10::MemoryFormat::ChannelsLast;
  return (x.size(1) == 1 && x.size(2) * x.size(3) > 1) ? c10::MemoryFormat::ChannelsLast
                                                       : c10::MemoryFormat::Contiguous;
}

}  // namespace cnnfast
