// linear_bias_act on the CPU: linear_act_cpu (common/linear_cpu.h): a row-streaming AVX-512 kernel
// at inference batch sizes, where a classifier head's cost is reading its weights once; MKL above.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "common/linear_cpu.h"
#include "ops/linear_bias_act/linear_bias_act.h"

namespace cnnfast {

namespace {

at::Tensor linear_bias_act_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                               c10::string_view act) {
  check_linear_bias_act(x, weight, bias);
  return linear_act_cpu(x, weight, bias, parse_activation(act));
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("linear_bias_act", TORCH_FN(linear_bias_act_cpu));
}

}  // namespace cnnfast
