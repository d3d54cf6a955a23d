// preact_conv1x1_out: the C++ entry point, argument checks, the autograd guard and the by-copy
// kernel. Why it exists: a DenseNet transition (BN -> ReLU -> 1x1 conv -> 2x2 average pool) makes
// the first features of the next dense block; as a plain op its output was copied into that
// block's concat buffer (29-54 us per copy at batch 1, three per DenseNet-121 inference).
#include "ops/preact_conv1x1_out/preact_conv1x1_out.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"
#include "ops/preact_conv1x1/preact_conv1x1.h"

namespace cnnfast {

void check_preact_conv1x1_out(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                              const at::Tensor& weight, const std::optional<at::Tensor>& bias, int64_t pool,
                              const at::Tensor& out) {
  check_preact_conv1x1(x, scale, shift, weight, bias, pool);
  const std::vector<int64_t> shape{x.size(0), weight.size(0), x.size(2) / pool, x.size(3) / pool};
  check_out_tensor(out, x, shape, "preact_conv1x1_out", "op");
}

void preact_conv1x1_out_by_copy(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                                const at::Tensor& weight, const std::optional<at::Tensor>& bias, c10::string_view act,
                                int64_t pool, at::Tensor& out) {
  check_preact_conv1x1_out(x, scale, shift, weight, bias, pool, out);
  if (out.numel() == 0) return;
  out.copy_(preact_conv1x1(x, scale, shift, weight, bias, act, pool));
}

void preact_conv1x1_out(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                        const at::Tensor& weight, const std::optional<at::Tensor>& bias, c10::string_view act,
                        int64_t pool, at::Tensor& out) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::preact_conv1x1_out", "")
                       .typed<decltype(preact_conv1x1_out)>();
  op.call(x, scale, shift, weight, bias, act, pool, out);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("preact_conv1x1_out", inference_only());
}

}  // namespace cnnfast
