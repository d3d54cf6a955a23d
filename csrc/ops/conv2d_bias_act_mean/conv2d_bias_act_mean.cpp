// conv2d_bias_act_mean: the C++ entry point, the autograd guard and the composite kernel. The
// arguments are conv2d_bias_act's and are checked by it.
#include "ops/conv2d_bias_act_mean/conv2d_bias_act_mean.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/inference_only.h"

namespace cnnfast {

std::tuple<at::Tensor, at::Tensor> conv2d_bias_act_mean_composite(
    const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups, const std::optional<at::Tensor>& residual,
    c10::string_view act) {
  at::Tensor out = conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual, act);
  at::Tensor mean = se_squeeze(out);
  return {std::move(out), std::move(mean)};
}

std::tuple<at::Tensor, at::Tensor> conv2d_bias_act_mean(const at::Tensor& x, const at::Tensor& weight,
                                                        const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                                        at::IntArrayRef padding, at::IntArrayRef dilation,
                                                        int64_t groups, const std::optional<at::Tensor>& residual,
                                                        c10::string_view act) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::conv2d_bias_act_mean", "")
                       .typed<decltype(conv2d_bias_act_mean)>();
  return op.call(x, weight, bias, stride, padding, dilation, groups, residual, act);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("conv2d_bias_act_mean", inference_only());
}

}  // namespace cnnfast
