// conv1x1_depthwise_mean: the C++ entry point, the autograd guard and the composite kernel. The
// arguments are conv1x1_depthwise's and are checked by it.
#include "ops/conv1x1_depthwise_mean/conv1x1_depthwise_mean.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/inference_only.h"

namespace cnnfast {

std::tuple<at::Tensor, at::Tensor> conv1x1_depthwise_mean_composite(
    const at::Tensor& x, const at::Tensor& weight1, const std::optional<at::Tensor>& bias1, c10::string_view act1,
    const at::Tensor& weight2, const std::optional<at::Tensor>& bias2, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, c10::string_view act2) {
  at::Tensor out = conv1x1_depthwise(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2);
  at::Tensor mean = se_squeeze(out);
  return {std::move(out), std::move(mean)};
}

std::tuple<at::Tensor, at::Tensor> conv1x1_depthwise_mean(const at::Tensor& x, const at::Tensor& weight1,
                                                          const std::optional<at::Tensor>& bias1,
                                                          c10::string_view act1, const at::Tensor& weight2,
                                                          const std::optional<at::Tensor>& bias2,
                                                          at::IntArrayRef stride, at::IntArrayRef padding,
                                                          at::IntArrayRef dilation, c10::string_view act2) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::conv1x1_depthwise_mean", "")
                       .typed<decltype(conv1x1_depthwise_mean)>();
  return op.call(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("conv1x1_depthwise_mean", inference_only());
}

}  // namespace cnnfast
