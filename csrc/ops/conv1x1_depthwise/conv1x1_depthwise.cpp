// conv1x1_depthwise: the C++ entry point, argument checks, the autograd guard and the composite
// kernel.
#include "ops/conv1x1_depthwise/conv1x1_depthwise.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"
#include "conv_engine/geometry.h"

namespace cnnfast {

namespace {

constexpr const char* kOp = "conv1x1_depthwise";

void check_pair(at::IntArrayRef v, const char* name, int64_t min_value) {
  TORCH_CHECK_VALUE(v.size() == 2, "cnnfast.conv1x1_depthwise: ", name, " must have 2 elements (H, W), got ",
                    v.size());
  TORCH_CHECK_VALUE(v[0] >= min_value && v[1] >= min_value, "cnnfast.conv1x1_depthwise: ", name, " must be >= ",
                    min_value, ", got ", v);
}

void check_bias(const std::optional<at::Tensor>& bias, const at::Tensor& x, const char* name, int64_t c) {
  if (!bias.has_value()) return;
  check_same(*bias, x, kOp, name);
  TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == c, "cnnfast.conv1x1_depthwise: ", name,
                    " must have shape (", c, "), got ", bias->sizes());
}

}  // namespace

std::vector<int64_t> check_conv1x1_depthwise(const at::Tensor& x, const at::Tensor& weight1,
                                             const std::optional<at::Tensor>& bias1, const at::Tensor& weight2,
                                             const std::optional<at::Tensor>& bias2, at::IntArrayRef stride,
                                             at::IntArrayRef padding, at::IntArrayRef dilation) {
  TORCH_CHECK_VALUE(x.dim() == 4, "cnnfast.conv1x1_depthwise: x must be 4-D (N, C, H, W), got ", x.dim(),
                    "-D of shape ", x.sizes());
  check_floating(x, kOp, "x");
  TORCH_CHECK_VALUE(x.size(1) > 0 && x.size(2) > 0 && x.size(3) > 0,
                    "cnnfast.conv1x1_depthwise: x must have non-zero channels, height and width (only the batch "
                    "may be empty), got shape ", x.sizes());
  check_same(weight1, x, kOp, "weight1");
  TORCH_CHECK_VALUE(weight1.dim() == 4 && weight1.size(0) > 0 && weight1.size(1) == x.size(1) &&
                        weight1.size(2) == 1 && weight1.size(3) == 1,
                    "cnnfast.conv1x1_depthwise: weight1 must have shape (C_mid, ", x.size(1), ", 1, 1), got ",
                    weight1.sizes());
  const int64_t c = weight1.size(0);
  check_bias(bias1, x, "bias1", c);
  check_same(weight2, x, kOp, "weight2");
  TORCH_CHECK_VALUE(weight2.dim() == 4 && weight2.size(0) == c && weight2.size(1) == 1 && weight2.size(2) > 0 &&
                        weight2.size(3) > 0,
                    "cnnfast.conv1x1_depthwise: weight2 must have shape (", c, ", 1, kH, kW) (one filter per "
                    "channel of the 1x1 conv's output), got ", weight2.sizes());
  check_bias(bias2, x, "bias2", c);
  check_pair(stride, "stride", 1);
  check_pair(padding, "padding", 0);
  check_pair(dilation, "dilation", 1);
  const int64_t oh = engine::conv_out_size(x.size(2), weight2.size(2), stride[0], padding[0], dilation[0]);
  const int64_t ow = engine::conv_out_size(x.size(3), weight2.size(3), stride[1], padding[1], dilation[1]);
  TORCH_CHECK_VALUE(oh > 0 && ow > 0, "cnnfast.conv1x1_depthwise: the ", weight2.size(2), "x", weight2.size(3),
                    " filter (dilation ", dilation, ", padding ", padding, ") is larger than the ", x.size(2), "x",
                    x.size(3), " map");
  return {x.size(0), c, oh, ow};
}

at::Tensor conv1x1_depthwise_composite(const at::Tensor& x, const at::Tensor& weight1,
                                       const std::optional<at::Tensor>& bias1, c10::string_view act1,
                                       const at::Tensor& weight2, const std::optional<at::Tensor>& bias2,
                                       at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                       c10::string_view act2) {
  check_conv1x1_depthwise(x, weight1, bias1, weight2, bias2, stride, padding, dilation);
  const int64_t one[2] = {1, 1}, zero[2] = {0, 0};
  const at::Tensor mid = conv2d_bias_act(x, weight1, bias1, one, zero, one, 1, std::nullopt, act1);
  return conv2d_bias_act(mid, weight2, bias2, stride, padding, dilation, weight1.size(0), std::nullopt, act2);
}

at::Tensor conv1x1_depthwise(const at::Tensor& x, const at::Tensor& weight1, const std::optional<at::Tensor>& bias1,
                             c10::string_view act1, const at::Tensor& weight2,
                             const std::optional<at::Tensor>& bias2, at::IntArrayRef stride,
                             at::IntArrayRef padding, at::IntArrayRef dilation, c10::string_view act2) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::conv1x1_depthwise", "")
                       .typed<decltype(conv1x1_depthwise)>();
  return op.call(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("conv1x1_depthwise", inference_only());
}

}  // namespace cnnfast
