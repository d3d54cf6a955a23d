// conv2d_bias_act: the C++ entry point (dispatcher call), argument checks and the autograd guard.
#include "ops/conv2d_bias_act/conv2d_bias_act.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/MemoryFormat.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/checks.h"
#include "common/inference_only.h"
#include "conv_engine/geometry.h"

namespace cnnfast {

namespace {

void check_pair(at::IntArrayRef v, const char* name, int64_t min_value) {
  TORCH_CHECK_VALUE(v.size() == 2, "cnnfast.conv2d_bias_act: ", name,
                    " must have 2 elements (H, W), got ", v.size());
  TORCH_CHECK_VALUE(v[0] >= min_value && v[1] >= min_value, "cnnfast.conv2d_bias_act: ", name,
                    " must be >= ", min_value, ", got ", v);
}

}  // namespace

std::vector<int64_t> check_conv2d_bias_act(const at::Tensor& x, const at::Tensor& weight,
                                           const std::optional<at::Tensor>& bias,
                                           at::IntArrayRef stride, at::IntArrayRef padding,
                                           at::IntArrayRef dilation, int64_t groups,
                                           const std::optional<at::Tensor>& residual) {
  TORCH_CHECK_VALUE(x.dim() == 4, "cnnfast.conv2d_bias_act: x must be 4-D (N, C, H, W), got ",
                    x.dim(), "-D of shape ", x.sizes());
  TORCH_CHECK_TYPE(at::isFloatingType(x.scalar_type()),
                   "cnnfast.conv2d_bias_act: x must be a floating tensor, got ", x.scalar_type());
  TORCH_CHECK_VALUE(weight.dim() == 4,
                    "cnnfast.conv2d_bias_act: weight must be 4-D (C_out, C_in/groups, kH, kW), got ",
                    weight.dim(), "-D of shape ", weight.sizes());
  check_same(weight, x, "conv2d_bias_act", "weight");
  // Zero-size inputs: an empty batch is fine (as in eager); eager rejects empty spatial maps, and
  // zero channels give no meaningful convolution, so those are errors here too.
  TORCH_CHECK_VALUE(x.size(1) > 0 && x.size(2) > 0 && x.size(3) > 0,
                    "cnnfast.conv2d_bias_act: x must have non-zero channels, height and width "
                    "(only the batch may be empty), got shape ", x.sizes());
  TORCH_CHECK_VALUE(weight.size(0) > 0 && weight.size(2) > 0 && weight.size(3) > 0,
                    "cnnfast.conv2d_bias_act: weight must have non-zero output channels and kernel "
                    "size, got shape ", weight.sizes());
  check_pair(stride, "stride", 1);
  check_pair(padding, "padding", 0);
  check_pair(dilation, "dilation", 1);
  TORCH_CHECK_VALUE(groups >= 1, "cnnfast.conv2d_bias_act: groups must be >= 1, got ", groups);
  const int64_t c_out = weight.size(0);
  TORCH_CHECK_VALUE(c_out % groups == 0, "cnnfast.conv2d_bias_act: weight has ", c_out,
                    " output channels, not divisible by groups=", groups);
  TORCH_CHECK_VALUE(x.size(1) == weight.size(1) * groups, "cnnfast.conv2d_bias_act: x has ",
                    x.size(1), " channels but weight expects ", weight.size(1) * groups,
                    " (weight.shape[1]=", weight.size(1), " x groups=", groups, ")");
  if (bias.has_value()) {
    check_same(*bias, x, "conv2d_bias_act", "bias");
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == c_out,
                      "cnnfast.conv2d_bias_act: bias must have shape (", c_out, "), got ",
                      bias->sizes());
  }
  std::vector<int64_t> out{x.size(0), c_out, 0, 0};
  for (int d = 0; d < 2; ++d) {
    const int64_t extent = dilation[d] * (weight.size(2 + d) - 1) + 1;
    const int64_t padded = x.size(2 + d) + 2 * padding[d];
    TORCH_CHECK_VALUE(padded >= extent, "cnnfast.conv2d_bias_act: input ", (d ? "width " : "height "),
                      x.size(2 + d), " with padding ", padding[d],
                      " is smaller than the dilated kernel (", extent, ")");
    out[2 + d] = engine::conv_out_size(x.size(2 + d), weight.size(2 + d), stride[d], padding[d], dilation[d]);
  }
  if (residual.has_value()) {
    check_same(*residual, x, "conv2d_bias_act", "residual");
    TORCH_CHECK_VALUE(residual->dim() <= 4, "cnnfast.conv2d_bias_act: residual must have at most 4 "
                      "dims, got shape ", residual->sizes());
    // Broadcasting into the output is allowed; growing the output is not.
    const auto r = residual->sizes();
    const int64_t off = 4 - static_cast<int64_t>(r.size());
    for (int64_t i = 0; i < static_cast<int64_t>(r.size()); ++i) {
      TORCH_CHECK_VALUE(r[i] == out[off + i] || r[i] == 1, "cnnfast.conv2d_bias_act: residual shape ",
                        r, " does not broadcast to the output shape ", out);
    }
  }
  return out;
}

at::Tensor conv2d_bias_act(const at::Tensor& x, const at::Tensor& weight,
                           const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                           at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                           const std::optional<at::Tensor>& residual, c10::string_view act) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::conv2d_bias_act", "")
                       .typed<decltype(conv2d_bias_act)>();
  return op.call(x, weight, bias, stride, padding, dilation, groups, residual, act);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("conv2d_bias_act", inference_only());
}

}  // namespace cnnfast
