// max_pool2d: the C++ entry point, argument checks and the autograd guard.
#include "ops/max_pool2d/max_pool2d.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"

namespace cnnfast {

std::vector<int64_t> check_max_pool2d(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                                      at::IntArrayRef padding, bool ceil_mode) {
  TORCH_CHECK_VALUE(x.dim() == 4, "cnnfast.max_pool2d: x must be 4-D (N, C, H, W), got ", x.dim(),
                    "-D of shape ", x.sizes());
  check_floating(x, "max_pool2d", "x");
  TORCH_CHECK_VALUE(kernel.size() == 2 && stride.size() == 2 && padding.size() == 2,
                    "cnnfast.max_pool2d: kernel, stride and padding must have 2 elements (H, W)");
  std::vector<int64_t> out{x.size(0), x.size(1), 0, 0};
  for (int d = 0; d < 2; ++d) {
    TORCH_CHECK_VALUE(kernel[d] >= 1 && stride[d] >= 1, "cnnfast.max_pool2d: kernel and stride must be >= 1, got ",
                      kernel, " and ", stride);
    TORCH_CHECK_VALUE(padding[d] >= 0 && 2 * padding[d] <= kernel[d], "cnnfast.max_pool2d: padding must be "
                      "between 0 and half the kernel, got padding ", padding, " for kernel ", kernel);
    const int64_t size = x.size(2 + d), span = size + 2 * padding[d] - kernel[d];
    TORCH_CHECK_VALUE(span >= 0, "cnnfast.max_pool2d: input ", (d ? "width " : "height "), size,
                      " with padding ", padding[d], " is smaller than the kernel (", kernel[d], ")");
    int64_t o = (ceil_mode ? span + stride[d] - 1 : span) / stride[d] + 1;
    // As ATen: in ceil mode the last window must start inside the input or its left padding.
    if (ceil_mode && (o - 1) * stride[d] >= size + padding[d]) --o;
    out[2 + d] = o;
  }
  return out;
}

at::Tensor max_pool2d(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                      bool ceil_mode) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::max_pool2d", "")
                       .typed<decltype(max_pool2d)>();
  return op.call(x, kernel, stride, padding, ceil_mode);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("max_pool2d", inference_only());
}

}  // namespace cnnfast
