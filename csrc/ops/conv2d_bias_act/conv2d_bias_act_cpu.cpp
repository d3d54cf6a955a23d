// conv2d_bias_act on the CPU: oneDNN convolution with prepacked weights and fused post-ops
// (reached through ATen's mkldnn ops), or ATen's convolution plus cnnfast's one-pass epilogue.
#include <ATen/ATen.h>
#include <array>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "common/activation_inplace.h"
#include "common/channel_sums.h"
#include "ops/conv2d_bias_act/epilogue_cpu.h"
#include "common/onednn_conv_cpu.h"
#include "common/prepacked_weights.h"
#include "conv_engine/conv_engine_cpu.h"
#include "conv_engine/route.h"
#include "ops/conv2d_bias_act/conv2d_bias_act.h"
#include "ops/conv2d_bias_act/conv2d_bias_act_cpu.h"
#include "ops/conv2d_bias_act/conv_path.h"
#include "ops/conv2d_bias_act/depthwise_conv_cpu.h"
#include "ops/conv2d_bias_act/grouped_conv_cpu.h"
#include "ops/conv2d_bias_act/stem_conv_cpu.h"
#include "ops/conv2d_bias_act/pointwise_conv_cpu.h"

namespace cnnfast {

bool onednn_post_op_keeps_nan(Activation act) {
  return act == Activation::None || act == Activation::SiLU || act == Activation::Sigmoid ||
         act == Activation::HardSwish || act == Activation::Tanh;
}

namespace {

using ScalarList = c10::List<std::optional<at::Scalar>>;

// oneDNN's names for the post-op forms of our activations (ATen mkldnn fusion attribute names).
struct OneDnnActivation {
  const char* name;
  ScalarList scalars;
};

const OneDnnActivation& onednn_activation(Activation act) {
  // Built once: c10::List allocates, and this runs on every call.
  static const std::array<OneDnnActivation, 8> table = [] {
    ScalarList relu6;
    relu6.push_back(at::Scalar(0.0));
    relu6.push_back(at::Scalar(6.0));
    return std::array<OneDnnActivation, 8>{{{"none", ScalarList()}, {"relu", ScalarList()},
                                            {"hardtanh", relu6}, {"swish", ScalarList()},
                                            {"sigmoid", ScalarList()}, {"hardswish", ScalarList()},
                                            {"hardsigmoid", ScalarList()}, {"tanh", ScalarList()}}};
  }();
  return table[static_cast<size_t>(act)];
}

at::Tensor conv_onednn(const at::Tensor& x, const at::Tensor& weight,
                       const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                       at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                       const std::optional<at::Tensor>& residual, Activation act,
                       c10::MemoryFormat format) {
  static auto unary = c10::Dispatcher::singleton()
                          .findSchemaOrThrow("mkldnn::_convolution_pointwise", "")
                          .typed<at::Tensor(const at::Tensor&, const at::Tensor&,
                                            const std::optional<at::Tensor>&, at::IntArrayRef,
                                            at::IntArrayRef, at::IntArrayRef, int64_t,
                                            c10::string_view, ScalarList,
                                            std::optional<c10::string_view>)>();
  static auto binary = c10::Dispatcher::singleton()
                           .findSchemaOrThrow("mkldnn::_convolution_pointwise", "binary")
                           .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                             const std::optional<at::Tensor>&, at::IntArrayRef,
                                             at::IntArrayRef, at::IntArrayRef, int64_t,
                                             c10::string_view, std::optional<at::Scalar>,
                                             std::optional<c10::string_view>, ScalarList,
                                             std::optional<c10::string_view>)>();
  // Measured (benchmarks/ops/bench_conv2d_bias_act.py): with channels_last input the prepacked
  // blocked weight is fastest on every layer of ResNet-50/VGG-16/GoogLeNet; with NCHW input oneDNN
  // re-lays a blocked weight out per call and is up to 2.5x slower than with the plain weight.
  const at::Tensor packed = format == at::MemoryFormat::ChannelsLast
                                ? prepacked_conv2d_weight(weight, padding, stride, dilation, groups, x.sizes())
                                : weight.contiguous();
  const std::optional<at::Tensor> b = bias.has_value() ? std::optional<at::Tensor>(bias->contiguous()) : std::nullopt;
  const OneDnnActivation& a = onednn_activation(act);
  if (!residual.has_value()) {
    if (onednn_post_op_keeps_nan(act)) {
      return unary.call(x, packed, b, padding, stride, dilation, groups, a.name, a.scalars, std::nullopt);
    }
    const OneDnnActivation& none = onednn_activation(Activation::None);
    at::Tensor out = unary.call(x, packed, b, padding, stride, dilation, groups, none.name, none.scalars,
                                std::nullopt);
    activation_(out, act);
    return out;
  }
  // Binary post-op: conv + bias + residual in one pass over the output. The activation follows
  // as ATen's in-place pass: the binary fusion accepts only ReLU as a trailing unary, and its
  // ReLU is not NaN-safe either.
  at::Tensor out = binary.call(x, residual->contiguous(format), packed, b, padding, stride, dilation,
                               groups, "add", at::Scalar(1.0), std::nullopt, ScalarList(), std::nullopt);
  activation_(out, act);
  return out;
}

at::Tensor conv_gemm(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                     const std::optional<at::Tensor>& residual, Activation act) {
  const int64_t n = x.size(0), c_out = weight.size(0);
  const at::Tensor x2d = x.reshape({n, x.size(1)});
  const at::Tensor w2d = weight.reshape({c_out, weight.size(1)}).t();
  at::Tensor out = bias.has_value() ? at::addmm(*bias, x2d, w2d) : at::mm(x2d, w2d);
  out = out.view({n, c_out, 1, 1});
  if (residual.has_value() || act != Activation::None) bias_residual_act_cpu_(out, std::nullopt, residual, act);
  return out;
}

}  // namespace

at::Tensor conv2d_bias_act_cpu(const at::Tensor& x, const at::Tensor& weight,
                               const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                               at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                               const std::optional<at::Tensor>& residual, c10::string_view act_name,
                               ChannelSums* sums) {
  const auto out_shape = check_conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual);
  const Activation act = parse_activation(act_name);
  const auto format = output_memory_format(x);
  if (x.size(0) == 0) return at::empty(out_shape, x.options().memory_format(format));
  // A residual that only broadcasts (rare; never in the patterns optimize() fuses) is expanded
  // to the output's shape so that both paths see one element per output element.
  std::optional<at::Tensor> res = residual;
  if (res.has_value() && res->sizes() != at::IntArrayRef(out_shape)) res = res->expand(out_shape);

  const engine::ConvGeometry geo = engine::make_geometry(x, weight, stride, padding, dilation, groups);
  const engine::ConvPath path = conv_path(x, weight, padding, dilation, geo, format);
  // The kernels that can take the output's channel sums as they store it (all fp32 channels_last).
  if (sums) {
    sums->filled = path == engine::ConvPath::Depthwise || path == engine::ConvPath::Pointwise ||
                   path == engine::ConvPath::Grouped || path == engine::ConvPath::Engine ||
                   path == engine::ConvPath::Winograd;
    if (!sums->filled) sums = nullptr;
  }
  switch (path) {
    case engine::ConvPath::Gemm:
      return with_memory_format(conv_gemm(x, weight, bias, res, act), format);
    case engine::ConvPath::Depthwise:
      return depthwise_conv_cpu(x.contiguous(format), weight, bias, stride, padding, dilation, res, act, out_shape,
                                sums);
    case engine::ConvPath::Pointwise:
      return pointwise_conv_cpu(x.contiguous(format), weight, bias, res, act, out_shape, sums);
    case engine::ConvPath::Grouped:
      return grouped_conv_cpu(x.contiguous(format), weight, bias, stride, padding, dilation, groups, res, act,
                              out_shape, sums);
    case engine::ConvPath::Stem:
      return stem_conv_cpu(x.contiguous(format), weight, bias, stride, padding, dilation, res, act, out_shape);
    case engine::ConvPath::Engine:
    case engine::ConvPath::Winograd: {
      at::Tensor out = at::empty(out_shape, x.options().memory_format(format));
      engine::conv_engine_cpu(x.contiguous(format), weight, bias, geo, res, act, out,
                              /*winograd=*/path == engine::ConvPath::Winograd, sums);
      return out;
    }
    case engine::ConvPath::OneDnn:
    case engine::ConvPath::Portable:
      break;
  }
  if (path == engine::ConvPath::OneDnn) {
    // ATen's prepacked channels_last conv returns garbage for a single-channel input whose output
    // is one column wide (found by the property tests; 22 of 6000 random shapes, all of this
    // kind, none elsewhere). Those tiny convs run in plain NCHW instead.
    const bool onednn_cl_bug = x.size(1) == 1 && out_shape[3] == 1;
    const auto run_format = onednn_cl_bug ? at::MemoryFormat::Contiguous : format;
    const at::Tensor out = conv_onednn(x.contiguous(run_format), weight, bias, stride, padding, dilation,
                                       groups, res, act, run_format);
    return with_memory_format(out, format);
  }
  at::Tensor out = at::convolution(x.contiguous(format), weight, std::nullopt, stride, padding,
                                   dilation, /*transposed=*/false, /*output_padding=*/{0, 0}, groups);
  out = with_memory_format(out, format);
  bias_residual_act_cpu_(out, bias, res, act);
  return out;
}

namespace {

at::Tensor conv2d_bias_act_kernel(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                                  at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                  int64_t groups, const std::optional<at::Tensor>& residual,
                                  c10::string_view act_name) {
  return conv2d_bias_act_cpu(x, weight, bias, stride, padding, dilation, groups, residual, act_name, nullptr);
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("conv2d_bias_act", TORCH_FN(conv2d_bias_act_kernel));
}

}  // namespace cnnfast
