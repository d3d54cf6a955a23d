// shuffle_channels: the C++ entry point, argument checks and the autograd guard.
#include "ops/shuffle_channels/shuffle_channels.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"
#include "common/memory_format.h"

namespace cnnfast {

int64_t check_shuffle_channels(at::TensorList inputs, const at::Tensor& index, at::IntArrayRef split) {
  TORCH_CHECK_VALUE(!inputs.empty(), "cnnfast.shuffle_channels: inputs must hold at least one tensor");
  const at::Tensor& x = inputs[0];
  int64_t channels = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const at::Tensor& t = inputs[i];
    TORCH_CHECK_VALUE(t.dim() == 4, "cnnfast.shuffle_channels: inputs[", i, "] must be 4-D (N, C, H, W), got shape ",
                      t.sizes());
    check_same(t, x, "shuffle_channels", "an input", "inputs[0]");
    TORCH_CHECK_VALUE(t.size(0) == x.size(0) && t.size(2) == x.size(2) && t.size(3) == x.size(3),
                      "cnnfast.shuffle_channels: inputs[", i, "] has shape ", t.sizes(),
                      "; every input needs the N, H and W of inputs[0] ", x.sizes());
    channels += t.size(1);
  }
  TORCH_CHECK_TYPE(index.scalar_type() == at::kLong, "cnnfast.shuffle_channels: index must be int64, got ",
                   index.scalar_type());
  TORCH_CHECK_VALUE(index.dim() == 1, "cnnfast.shuffle_channels: index must be 1-D, got shape ", index.sizes());
  TORCH_CHECK_VALUE(index.device() == x.device(), "cnnfast.shuffle_channels: index is on ", index.device(),
                    " but the inputs are on ", x.device());
  int64_t total = 0;
  for (int64_t s : split) {
    TORCH_CHECK_VALUE(s >= 0, "cnnfast.shuffle_channels: split sizes must be >= 0, got ", split);
    total += s;
  }
  TORCH_CHECK_VALUE(total == index.size(0), "cnnfast.shuffle_channels: split ", split, " adds up to ", total,
                    " channels but index has ", index.size(0));
  // The values are range-checked by the kernels as they read them (the CPU kernel while it plans
  // its copies, the CUDA one by index_select): a separate min/max here would cost two reductions
  // per call and, on a GPU, a synchronisation.
  return channels;
}

std::vector<at::Tensor> shuffle_channels_outputs(at::TensorList inputs, at::IntArrayRef split) {
  const at::Tensor& x = inputs[0];
  const auto format = elementwise_memory_format(x);
  std::vector<at::Tensor> outs;
  outs.reserve(split.size());
  for (int64_t s : split) {
    outs.push_back(at::empty({x.size(0), s, x.size(2), x.size(3)}, x.options().memory_format(format)));
  }
  return outs;
}

std::vector<at::Tensor> shuffle_channels(at::TensorList inputs, const at::Tensor& index, at::IntArrayRef split) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::shuffle_channels", "")
                       .typed<decltype(shuffle_channels)>();
  return op.call(inputs, index, split);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("shuffle_channels", inference_only());
}

}  // namespace cnnfast
