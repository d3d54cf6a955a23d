// conv2d_bias_act_mean: the composite kernel, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <optional>
#include <tuple>

namespace cnnfast {

// conv2d_bias_act, then se_squeeze of its output (a second read of the map): the CUDA kernel, and
// the CPU kernel's path where the routed conv kernel cannot take the sums as it stores.
std::tuple<at::Tensor, at::Tensor> conv2d_bias_act_mean_composite(
    const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups, const std::optional<at::Tensor>& residual,
    c10::string_view act);

}  // namespace cnnfast
