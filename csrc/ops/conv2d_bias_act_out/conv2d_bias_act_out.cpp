// conv2d_bias_act_out: the C++ entry point, argument checks, the autograd guard and the fallback
// kernel the CPU and CUDA registrations share: the registered conv2d_bias_act kernel, then one
// copy into `out`. On the CPU, layers the router gives to cnnfast's conv engine skip this: its
// tile store writes the slice directly (conv2d_bias_act_out_cpu.cpp).
// Why the other routes copy: ATen's oneDNN convolutions write a strided destination by computing
// into a temporary and adding it in (measured: the in-place "sum" form on a channel slice runs an
// extra aten::add_ and was 3% slower than compute + copy on GoogLeNet), and cuDNN through ATen
// likewise returns a fresh tensor. The copy is what torch.cat would have done for this part; the
// saving is the cat's other copies (DenseNet: each layer's features are copied once, not once per
// later layer) and its memory. cnnfast/triton's epilogue also stores straight into the slice
// (cnnfast.ops.conv2d_bias_act_out with backend="triton").
#include "ops/conv2d_bias_act_out/conv2d_bias_act_out.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"
#include "ops/conv2d_bias_act/conv2d_bias_act.h"

namespace cnnfast {

void check_conv2d_bias_act_out(const at::Tensor& x, const at::Tensor& weight,
                               const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                               at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                               const std::optional<at::Tensor>& residual, const at::Tensor& out) {
  const auto shape = check_conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual);
  check_out_tensor(out, x, shape, "conv2d_bias_act_out", "convolution");
}

void conv2d_bias_act_out_by_copy(const at::Tensor& x, const at::Tensor& weight,
                                 const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                 at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                                 const std::optional<at::Tensor>& residual, c10::string_view act,
                                 at::Tensor& out) {
  check_conv2d_bias_act_out(x, weight, bias, stride, padding, dilation, groups, residual, out);
  if (out.numel() == 0) return;
  out.copy_(conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual, act));
}

void conv2d_bias_act_out(const at::Tensor& x, const at::Tensor& weight,
                         const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                         at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                         const std::optional<at::Tensor>& residual, c10::string_view act, at::Tensor& out) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::conv2d_bias_act_out", "")
                       .typed<decltype(conv2d_bias_act_out)>();
  op.call(x, weight, bias, stride, padding, dilation, groups, residual, act, out);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("conv2d_bias_act_out", inference_only());
}

}  // namespace cnnfast
