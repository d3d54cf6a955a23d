// se_scale: the C++ entry point (dispatcher call), argument checks and the autograd guard.
#include "ops/se_scale/se_scale.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"

namespace cnnfast {

void check_se_scale(const at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual) {
  TORCH_CHECK_VALUE(x.dim() == 4, "cnnfast.se_scale: x must be 4-D (N, C, H, W), got ", x.dim(),
                    "-D of shape ", x.sizes());
  check_floating(x, "se_scale", "x");
  check_same(gate, x, "se_scale", "gate");
  const int64_t n = x.size(0), c = x.size(1);
  const bool gate_ok = (gate.dim() == 2 && gate.size(0) == n && gate.size(1) == c) ||
                       (gate.dim() == 4 && gate.size(0) == n && gate.size(1) == c && gate.size(2) == 1 &&
                        gate.size(3) == 1);
  TORCH_CHECK_VALUE(gate_ok, "cnnfast.se_scale: gate must have shape (N, C) or (N, C, 1, 1) with N=", n,
                    ", C=", c, "; got ", gate.sizes());
  if (residual.has_value()) {
    check_same(*residual, x, "se_scale", "residual");
    TORCH_CHECK_VALUE(residual->sizes() == x.sizes(), "cnnfast.se_scale: residual must have x's shape ",
                      x.sizes(), ", got ", residual->sizes());
  }
}

at::Tensor se_scale(const at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual,
                    c10::string_view act) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::se_scale", "")
                       .typed<decltype(se_scale)>();
  return op.call(x, gate, residual, act);
}

void se_scale_(at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual,
                      c10::string_view act) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::se_scale_", "")
                       .typed<decltype(se_scale_)>();
  op.call(x, gate, residual, act);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("se_scale", inference_only());
  m.impl("se_scale_", inference_only());
}

}  // namespace cnnfast
