// se_squeeze: the C++ entry point (dispatcher call), argument checks and the autograd guard.
#include "ops/se_squeeze/se_squeeze.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"

namespace cnnfast {

void check_se_squeeze(const at::Tensor& x) {
  TORCH_CHECK_VALUE(x.dim() == 4, "cnnfast.se_squeeze: x must be 4-D (N, C, H, W), got ", x.dim(),
                    "-D of shape ", x.sizes());
  check_floating(x, "se_squeeze", "x");
  TORCH_CHECK_VALUE(x.size(2) * x.size(3) > 0,
                    "cnnfast.se_squeeze: x has an empty H x W map (shape ", x.sizes(),
                    "); its mean is undefined");
}

at::Tensor se_squeeze(const at::Tensor& x) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::se_squeeze", "")
                       .typed<decltype(se_squeeze)>();
  return op.call(x);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("se_squeeze", inference_only());
}

}  // namespace cnnfast
