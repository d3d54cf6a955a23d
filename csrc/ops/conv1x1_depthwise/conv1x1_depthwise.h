// conv1x1_depthwise: argument checks and the composite kernel, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <optional>
#include <vector>

namespace cnnfast {

// Raises a ValueError/TypeError naming the offending argument; returns the output shape.
std::vector<int64_t> check_conv1x1_depthwise(const at::Tensor& x, const at::Tensor& weight1,
                                             const std::optional<at::Tensor>& bias1, const at::Tensor& weight2,
                                             const std::optional<at::Tensor>& bias2, at::IntArrayRef stride,
                                             at::IntArrayRef padding, at::IntArrayRef dilation);

// The two convs as two conv2d_bias_act calls (the 1x1 map written in between): the CUDA kernel,
// and the CPU kernel's path where fusing does not pay or cannot run.
at::Tensor conv1x1_depthwise_composite(const at::Tensor& x, const at::Tensor& weight1,
                                       const std::optional<at::Tensor>& bias1, c10::string_view act1,
                                       const at::Tensor& weight2, const std::optional<at::Tensor>& bias2,
                                       at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                       c10::string_view act2);

}  // namespace cnnfast
