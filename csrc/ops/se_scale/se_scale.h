// Argument checks for se_scale, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// x (N, C, H, W) floating; gate (N, C) or (N, C, 1, 1); residual x's shape; one dtype and device.
void check_se_scale(const at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual);

}  // namespace cnnfast
