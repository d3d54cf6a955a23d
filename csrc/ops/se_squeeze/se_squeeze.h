// Argument checks for se_squeeze, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// x must be a floating (N, C, H, W) tensor with H * W > 0 (the mean of nothing is undefined).
void check_se_squeeze(const at::Tensor& x);

}  // namespace cnnfast
