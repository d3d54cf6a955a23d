// preact_conv1x1: act(conv1x1(avg_pool(relu(x * scale + shift))) + bias), the pre-activation
// bottleneck of a DenseNet layer (BN -> ReLU -> 1x1 conv) or transition (pool=2). Checks, layout
// rule and the composite kernel.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/MemoryFormat.h>

namespace cnnfast {

// Raises ValueError/TypeError naming the offending argument.
void check_preact_conv1x1(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                          const at::Tensor& weight, const std::optional<at::Tensor>& bias, int64_t pool);

// channels_last when x keeps its channels innermost (a channels_last map or a channel slice of
// one: what a dense block's concat buffer hands out) and the output map is more than 1x1; else
// NCHW. cnnfast/ops/preact_conv1x1.py's fake kernel mirrors this rule.
inline c10::MemoryFormat preact_output_format(const at::Tensor& x, int64_t pool) {
  const bool cl = x.stride(1) == 1 && x.size(1) > 1 && (x.size(2) / pool) * (x.size(3) / pool) > 1;
  return cl ? c10::MemoryFormat::ChannelsLast : c10::MemoryFormat::Contiguous;
}

// ATen ops for the prologue, then cnnfast's conv2d_bias_act: any device, any dtype.
at::Tensor preact_conv1x1_composite(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                                    const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                                    c10::string_view act, int64_t pool);

}  // namespace cnnfast
