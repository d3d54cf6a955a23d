// linear_bias_act on CUDA: cuBLAS (through ATen's addmm, on the current stream) with the bias in
// the GEMM, then the activation as one elementwise pass; ReLU-family and sigmoid-family heads
// are a few thousand values, so the separate pass costs one small launch.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "common/activation_inplace.h"
#include "ops/linear_bias_act/linear_bias_act.h"

namespace cnnfast {

namespace {

at::Tensor linear_bias_act_cuda(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                                c10::string_view act) {
  check_linear_bias_act(x, weight, bias);
  c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = bias.has_value() ? at::addmm(*bias, x, weight.t()) : at::mm(x, weight.t());
  activation_(out, parse_activation(act));
  return out.contiguous();
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("linear_bias_act", TORCH_FN(linear_bias_act_cuda));
}

}  // namespace cnnfast
