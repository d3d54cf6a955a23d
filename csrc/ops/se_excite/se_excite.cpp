// se_excite: the C++ entry point (dispatcher call), argument checks and the autograd guard.
#include "ops/se_excite/se_excite.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"

namespace cnnfast {

void check_se_excite(const at::Tensor& s, const at::Tensor& w1, const std::optional<at::Tensor>& b1,
                     const at::Tensor& w2, const std::optional<at::Tensor>& b2) {
  TORCH_CHECK_VALUE(s.dim() == 2, "cnnfast.se_excite: s must be 2-D (N, C), got shape ", s.sizes());
  check_floating(s, "se_excite", "s");
  TORCH_CHECK_VALUE(w1.dim() == 2 && w1.size(1) == s.size(1) && w1.size(0) > 0,
                    "cnnfast.se_excite: w1 must have shape (R, C) with C=", s.size(1),
                    " and R > 0, got ", w1.sizes());
  const int64_t c = s.size(1), r = w1.size(0);
  TORCH_CHECK_VALUE(w2.dim() == 2 && w2.size(0) == c && w2.size(1) == r,
                    "cnnfast.se_excite: w2 must have shape (C, R) = (", c, ", ", r, "), got ", w2.sizes());
  check_same(w1, s, "se_excite", "w1", "s");
  check_same(w2, s, "se_excite", "w2", "s");
  if (b1.has_value()) {
    check_same(*b1, s, "se_excite", "b1", "s");
    TORCH_CHECK_VALUE(b1->dim() == 1 && b1->size(0) == r, "cnnfast.se_excite: b1 must have shape (",
                      r, "), got ", b1->sizes());
  }
  if (b2.has_value()) {
    check_same(*b2, s, "se_excite", "b2", "s");
    TORCH_CHECK_VALUE(b2->dim() == 1 && b2->size(0) == c, "cnnfast.se_excite: b2 must have shape (",
                      c, "), got ", b2->sizes());
  }
}

at::Tensor se_excite(const at::Tensor& s, const at::Tensor& w1, const std::optional<at::Tensor>& b1,
                     const at::Tensor& w2, const std::optional<at::Tensor>& b2,
                     c10::string_view act1, c10::string_view act2) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::se_excite", "")
                       .typed<decltype(se_excite)>();
  return op.call(s, w1, b1, w2, b2, act1, act2);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("se_excite", inference_only());
}

}  // namespace cnnfast
