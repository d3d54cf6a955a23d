// preact_conv1x1_out: preact_conv1x1 written into a caller's tensor (a channel slice of a concat
// buffer). Checks and the fallback kernel (see preact_conv1x1_out.cpp).
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// preact_conv1x1's checks, plus: out has the output's shape, x's dtype and device, no overlapping
// elements, and does not overlap x (ValueError / TypeError naming the argument).
void check_preact_conv1x1_out(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                              const at::Tensor& weight, const std::optional<at::Tensor>& bias, int64_t pool,
                              const at::Tensor& out);

// out = preact_conv1x1(...) through the registered preact_conv1x1 kernel and one copy: any device,
// any layout of out. The CUDA kernel, and the CPU one where the fused loop cannot write out.
void preact_conv1x1_out_by_copy(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                                const at::Tensor& weight, const std::optional<at::Tensor>& bias, c10::string_view act,
                                int64_t pool, at::Tensor& out);

}  // namespace cnnfast
