// preact_conv1x1: the C++ entry point, argument checks, the autograd guard and the composite
// kernel (the CUDA kernel, and the CPU kernel's path for what its fused loop does not cover).
#include "ops/preact_conv1x1/preact_conv1x1.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"

namespace cnnfast {

void check_preact_conv1x1(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                          const at::Tensor& weight, const std::optional<at::Tensor>& bias, int64_t pool) {
  TORCH_CHECK_VALUE(x.dim() == 4, "cnnfast.preact_conv1x1: x must be 4-D (N, C, H, W), got ", x.dim(),
                    "-D of shape ", x.sizes());
  check_floating(x, "preact_conv1x1", "x");
  TORCH_CHECK_VALUE(x.size(1) > 0 && x.size(2) > 0 && x.size(3) > 0,
                    "cnnfast.preact_conv1x1: x must have non-zero channels, height and width, got shape ",
                    x.sizes());
  TORCH_CHECK_VALUE(pool == 1 || pool == 2, "cnnfast.preact_conv1x1: pool must be 1 (none) or 2 (2x2 "
                    "average pool), got ", pool);
  TORCH_CHECK_VALUE(x.size(2) >= pool && x.size(3) >= pool, "cnnfast.preact_conv1x1: a ", pool, "x", pool,
                    " pool needs a map at least that large, got ", x.sizes());
  const int64_t c = x.size(1);
  for (const auto& [t, name] : {std::pair<const at::Tensor&, const char*>{scale, "scale"}, {shift, "shift"}}) {
    check_same(t, x, "preact_conv1x1", name);
    TORCH_CHECK_VALUE(t.dim() == 1 && t.size(0) == c, "cnnfast.preact_conv1x1: ", name, " must have shape (",
                      c, "), got ", t.sizes());
  }
  check_same(weight, x, "preact_conv1x1", "weight");
  TORCH_CHECK_VALUE(weight.dim() == 4 && weight.size(1) == c && weight.size(2) == 1 && weight.size(3) == 1 &&
                        weight.size(0) > 0,
                    "cnnfast.preact_conv1x1: weight must have shape (C_out, ", c, ", 1, 1), got ", weight.sizes());
  if (bias.has_value()) {
    check_same(*bias, x, "preact_conv1x1", "bias");
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == weight.size(0),
                      "cnnfast.preact_conv1x1: bias must have shape (", weight.size(0), "), got ", bias->sizes());
  }
}

at::Tensor preact_conv1x1_composite(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                                    const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                                    c10::string_view act, int64_t pool) {
  check_preact_conv1x1(x, scale, shift, weight, bias, pool);
  const auto format = preact_output_format(x, pool);
  at::Tensor a = at::relu(at::addcmul(shift.view({1, -1, 1, 1}), x, scale.view({1, -1, 1, 1})));
  if (pool > 1) a = at::avg_pool2d(a, {pool, pool}, {pool, pool});
  a = a.contiguous(format);
  const int64_t one[2] = {1, 1}, zero[2] = {0, 0};
  at::Tensor out = conv2d_bias_act(a, weight, bias, one, zero, one, 1, std::nullopt, act);
  return out.contiguous(format);
}

at::Tensor preact_conv1x1(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                          const at::Tensor& weight, const std::optional<at::Tensor>& bias, c10::string_view act,
                          int64_t pool) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::preact_conv1x1", "")
                       .typed<decltype(preact_conv1x1)>();
  return op.call(x, scale, shift, weight, bias, act, pool);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("preact_conv1x1", inference_only());
}

}  // namespace cnnfast
