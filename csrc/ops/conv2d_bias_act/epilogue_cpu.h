// One-pass bias + residual + activation over a conv output on the CPU (the portable epilogue).
#pragma once

#include <ATen/core/Tensor.h>

#include "cnnfast/activation.h"

namespace cnnfast {

// out = act(out + bias[c] + residual), in place. out is contiguous in NCHW or channels_last;
// residual (optional) has out's shape (it is made to share out's strides here).
void bias_residual_act_cpu_(at::Tensor& out, const std::optional<at::Tensor>& bias,
                            const std::optional<at::Tensor>& residual, Activation act);

}  // namespace cnnfast
