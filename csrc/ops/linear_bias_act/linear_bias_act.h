// Argument checks for linear_bias_act, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// x (N, K) floating; weight (M, K); bias (M); one dtype and device.
void check_linear_bias_act(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias);

}  // namespace cnnfast
