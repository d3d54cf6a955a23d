// conv2d_bias_act_out: conv2d_bias_act written into a caller's tensor (a channel slice of a
// concat buffer). Checks and the kernel (see conv2d_bias_act_out.cpp).
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// conv2d_bias_act's checks, plus: out has the output's shape, x's dtype and device, and does not
// overlap x (ValueError / TypeError naming the argument).
void check_conv2d_bias_act_out(const at::Tensor& x, const at::Tensor& weight,
                               const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                               at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                               const std::optional<at::Tensor>& residual, const at::Tensor& out);

// out = conv2d_bias_act(...) through the registered conv2d_bias_act kernel and one copy: any
// device, any layout of out. The CPU and CUDA kernels of the op.
void conv2d_bias_act_out_by_copy(const at::Tensor& x, const at::Tensor& weight,
                                 const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                 at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                                 const std::optional<at::Tensor>& residual, c10::string_view act,
                                 at::Tensor& out);

}  // namespace cnnfast
