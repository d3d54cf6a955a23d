// max_pool2d_out: max_pool2d written into a caller's tensor (a channel slice of a concat buffer).
// Checks and the fallback kernel (see max_pool2d_out.cpp).
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// max_pool2d's checks, plus: out has the output's shape, x's dtype and device, no overlapping
// elements, and does not overlap x (ValueError / TypeError naming the argument).
void check_max_pool2d_out(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                          at::IntArrayRef padding, bool ceil_mode, const at::Tensor& out);

// out = max_pool2d(...) through the registered max_pool2d kernel and one copy: any device, any
// layout of out. The CUDA kernel, and the CPU one where the channels_last kernel cannot write out.
void max_pool2d_out_by_copy(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                            at::IntArrayRef padding, bool ceil_mode, at::Tensor& out);

}  // namespace cnnfast
