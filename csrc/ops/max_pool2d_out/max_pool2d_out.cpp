// max_pool2d_out: the C++ entry point, argument checks, the autograd guard and the by-copy kernel.
// Why it exists: a max pool is one of the parts of Inception-v3's grid-reduction blocks (Mixed_6a,
// Mixed_7a) and the first features of DenseNet's first block; as a plain op its output was copied
// into the concat buffer (34-47 us per copy at batch 1). The CPU kernel writes the slice directly.
#include "ops/max_pool2d_out/max_pool2d_out.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"
#include "ops/max_pool2d/max_pool2d.h"

namespace cnnfast {

void check_max_pool2d_out(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                          at::IntArrayRef padding, bool ceil_mode, const at::Tensor& out) {
  const auto shape = check_max_pool2d(x, kernel, stride, padding, ceil_mode);
  check_out_tensor(out, x, shape, "max_pool2d_out", "pool");
}

void max_pool2d_out_by_copy(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                            at::IntArrayRef padding, bool ceil_mode, at::Tensor& out) {
  check_max_pool2d_out(x, kernel, stride, padding, ceil_mode, out);
  if (out.numel() == 0) return;
  out.copy_(max_pool2d(x, kernel, stride, padding, ceil_mode));
}

void max_pool2d_out(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                    bool ceil_mode, at::Tensor& out) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::max_pool2d_out", "")
                       .typed<decltype(max_pool2d_out)>();
  op.call(x, kernel, stride, padding, ceil_mode, out);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("max_pool2d_out", inference_only());
}

}  // namespace cnnfast
