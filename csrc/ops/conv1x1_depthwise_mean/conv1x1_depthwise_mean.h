// conv1x1_depthwise_mean: the composite kernel, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <optional>
#include <tuple>

namespace cnnfast {

// conv1x1_depthwise, then se_squeeze of its output (a second read of the map): the CUDA kernel.
std::tuple<at::Tensor, at::Tensor> conv1x1_depthwise_mean_composite(
    const at::Tensor& x, const at::Tensor& weight1, const std::optional<at::Tensor>& bias1, c10::string_view act1,
    const at::Tensor& weight2, const std::optional<at::Tensor>& bias2, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, c10::string_view act2);

}  // namespace cnnfast
