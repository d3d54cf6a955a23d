// linear_bias_act: the C++ entry point (dispatcher call), argument checks and the autograd guard.
#include "ops/linear_bias_act/linear_bias_act.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"

namespace cnnfast {

void check_linear_bias_act(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias) {
  TORCH_CHECK_VALUE(x.dim() == 2, "cnnfast.linear_bias_act: x must be 2-D (N, K), got shape ", x.sizes());
  check_floating(x, "linear_bias_act", "x");
  TORCH_CHECK_VALUE(weight.dim() == 2 && weight.size(1) == x.size(1),
                    "cnnfast.linear_bias_act: weight must have shape (M, K) with K=", x.size(1), ", got ",
                    weight.sizes());
  check_same(weight, x, "linear_bias_act", "weight");
  if (bias.has_value()) {
    check_same(*bias, x, "linear_bias_act", "bias");
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == weight.size(0),
                      "cnnfast.linear_bias_act: bias must have shape (", weight.size(0), "), got ", bias->sizes());
  }
}

at::Tensor linear_bias_act(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                           c10::string_view act) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::linear_bias_act", "")
                       .typed<decltype(linear_bias_act)>();
  return op.call(x, weight, bias, act);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("linear_bias_act", inference_only());
}

}  // namespace cnnfast
