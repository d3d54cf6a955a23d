// max_pool2d: the output shape rule (ATen's, floor or ceil mode) and argument checks.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace cnnfast {

// Raises ValueError/TypeError naming the offending argument; returns the output shape.
std::vector<int64_t> check_max_pool2d(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                                      at::IntArrayRef padding, bool ceil_mode);

}  // namespace cnnfast
