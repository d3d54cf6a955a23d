// to_channels_last: the C++ entry point (dispatcher call), argument checks, the autograd guard and
// the composite kernel.
#include "ops/to_channels_last/to_channels_last.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/inference_only.h"

namespace cnnfast {

void check_to_channels_last(const at::Tensor& x) {
  TORCH_CHECK_VALUE(x.dim() == 4, "cnnfast.to_channels_last: x must be 4-D (N, C, H, W), got ", x.dim(),
                    "-D of shape ", x.sizes());
}

at::Tensor to_channels_last_composite(const at::Tensor& x) {
  check_to_channels_last(x);
  return at::empty_like(x, at::MemoryFormat::ChannelsLast).copy_(x);
}

at::Tensor to_channels_last(const at::Tensor& x) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::to_channels_last", "")
                       .typed<decltype(to_channels_last)>();
  return op.call(x);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("to_channels_last", inference_only());
}

}  // namespace cnnfast
