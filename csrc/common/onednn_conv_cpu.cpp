// onednn_conv_supported / onednn_conv_add_ (see onednn_conv_cpu.h).
#include "common/onednn_conv_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include "common/prepacked_weights.h"

namespace cnnfast {

namespace {

// Padding at least as wide as the dilated kernel makes border outputs that see nothing but
// padding. No real network does this, and there oneDNN's prepacked conv with a post-op crashes
// (segfault; found by the property tests: width-1 input, kernel width 1, padding 2, stride 3),
// so such geometry takes the portable path.
bool padding_only_outputs(const at::Tensor& weight, at::IntArrayRef padding, at::IntArrayRef dilation) {
  for (int d = 0; d < 2; ++d) {
    if (padding[d] >= dilation[d] * (weight.size(2 + d) - 1) + 1) return true;
  }
  return false;
}

// oneDNN's bf16 convs need AVX-512 BW/VL/DQ or AVX-NE-CONVERT: on an AVX2-only CPU (AMD Zen 3)
// reordering a bf16 weight throws. ATen keeps that check internal; this op is its public form.
bool onednn_bf16_supported() {
  static const bool ok = [] {
    auto op = c10::Dispatcher::singleton().findSchema({"mkldnn::_is_mkldnn_bf16_supported", ""});
    return op.has_value() && op->typed<bool()>().call();
  }();
  return ok;
}

}  // namespace

bool onednn_conv_supported(const at::Tensor& x, const at::Tensor& weight, at::IntArrayRef padding,
                           at::IntArrayRef dilation) {
  // fp32 and bf16 are what oneDNN's CPU convolutions are tuned for; everything else (fp64, fp16,
  // bf16 where this CPU has no bf16 convs) takes the portable path.
  return at::hasMKLDNN() && at::globalContext().userEnabledMkldnn() &&
         (x.scalar_type() == at::kFloat || (x.scalar_type() == at::kBFloat16 && onednn_bf16_supported())) &&
         !padding_only_outputs(weight, padding, dilation);
}

void onednn_conv_add_(at::Tensor& out, const at::Tensor& x, const at::Tensor& weight,
                      const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                      at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  using ScalarList = c10::List<std::optional<at::Scalar>>;
  static auto add_into = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("mkldnn::_convolution_pointwise_", "binary")
                             .typed<at::Tensor&(at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                const std::optional<at::Tensor>&, at::IntArrayRef,
                                                at::IntArrayRef, at::IntArrayRef, int64_t,
                                                c10::string_view, std::optional<at::Scalar>,
                                                std::optional<c10::string_view>, ScalarList,
                                                std::optional<c10::string_view>)>();
  const at::Tensor packed = prepacked_conv2d_weight(weight, padding, stride, dilation, groups, x.sizes());
  const std::optional<at::Tensor> b = bias.has_value() ? std::optional<at::Tensor>(bias->contiguous()) : std::nullopt;
  add_into.call(out, x, packed, b, padding, stride, dilation, groups, "add", at::Scalar(1.0), std::nullopt,
                ScalarList(), std::nullopt);
}

}  // namespace cnnfast
