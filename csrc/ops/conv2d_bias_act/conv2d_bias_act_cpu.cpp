// conv2d_bias_act on the CPU: oneDNN convolution with prepacked weights and fused post-ops
// (reached through ATen's mkldnn ops), or ATen's convolution plus cnnfast's one-pass epilogue.
#include <ATen/ATen.h>
#include <array>
#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "common/epilogue_cpu.h"
#include "common/prepacked_weights.h"
#include "ops/conv2d_bias_act/conv2d_bias_act.h"

namespace cnnfast {

namespace {

using ScalarList = c10::List<std::optional<at::Scalar>>;

// oneDNN's names for the post-op forms of our activations (ATen mkldnn fusion attribute names).
struct OneDnnActivation {
  const char* name;
  ScalarList scalars;
};

const OneDnnActivation& onednn_activation(Activation act) {
  // Built once: c10::List allocates, and this runs on every call.
  static const std::array<OneDnnActivation, 7> table = [] {
    ScalarList relu6;
    relu6.push_back(at::Scalar(0.0));
    relu6.push_back(at::Scalar(6.0));
    return std::array<OneDnnActivation, 7>{{{"none", ScalarList()}, {"relu", ScalarList()},
                                            {"hardtanh", relu6}, {"swish", ScalarList()},
                                            {"sigmoid", ScalarList()}, {"hardswish", ScalarList()},
                                            {"hardsigmoid", ScalarList()}}};
  }();
  return table[static_cast<size_t>(act)];
}

bool use_onednn(const at::Tensor& x) {
  // fp32 and bf16 are what oneDNN's CPU convolutions are tuned for; everything else (fp64, fp16)
  // takes the portable path.
  return at::hasMKLDNN() && at::globalContext().userEnabledMkldnn() &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
}

at::Tensor conv_onednn(const at::Tensor& x, const at::Tensor& weight,
                       const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                       at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                       const std::optional<at::Tensor>& residual, Activation act) {
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
  const auto format = output_memory_format(x);
  const at::Tensor packed = format == at::MemoryFormat::ChannelsLast
                                ? prepacked_conv2d_weight(weight, padding, stride, dilation, groups, x.sizes())
                                : weight.contiguous();
  const std::optional<at::Tensor> b = bias.has_value() ? std::optional<at::Tensor>(bias->contiguous()) : std::nullopt;
  const OneDnnActivation& a = onednn_activation(act);
  if (!residual.has_value()) {
    return unary.call(x, packed, b, padding, stride, dilation, groups, a.name, a.scalars, std::nullopt);
  }
  // Binary post-op: conv + bias + residual, then the unary post-op, in one pass over the output.
  // ATen's binary conv fusion accepts only ReLU as the trailing unary; other activations after a
  // residual add run as a second, in-place pass. So does ReLU in bf16, whose unfused fallback
  // inside ATen (add_relu) has no bf16 kernel.
  const bool fuse_act = act == Activation::None ||
                        (act == Activation::ReLU && x.scalar_type() == at::kFloat);
  std::optional<c10::string_view> unary_attr;
  if (fuse_act && act == Activation::ReLU) unary_attr = a.name;
  at::Tensor out = binary.call(x, residual->contiguous(format), packed, b, padding, stride, dilation,
                               groups, "add", at::Scalar(1.0), unary_attr, ScalarList(), std::nullopt);
  if (!fuse_act) activation_(out, act);
  return out;
}

// A 1x1 conv on a 1x1 map (the SE excitation FCs, heads after global pooling) is a plain GEMM:
// MKL's addmm beats oneDNN's conv here by 2x at batch 1 (~14 vs 27 us for 960->240).
bool is_gemm(const at::Tensor& x, const at::Tensor& weight, at::IntArrayRef padding, int64_t groups) {
  return groups == 1 && x.size(2) == 1 && x.size(3) == 1 && weight.size(2) == 1 &&
         weight.size(3) == 1 && padding[0] == 0 && padding[1] == 0;
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

at::Tensor conv2d_bias_act_cpu(const at::Tensor& x, const at::Tensor& weight,
                               const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                               at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                               const std::optional<at::Tensor>& residual, c10::string_view act_name) {
  const auto out_shape = check_conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual);
  const Activation act = parse_activation(act_name);
  const auto format = output_memory_format(x);
  if (x.size(0) == 0 || x.size(1) == 0) {
    auto out = at::empty(out_shape, x.options().memory_format(format));
    // No input channels: the conv sum is empty, so the output is act(bias + residual).
    if (out.numel() > 0) {
      out.zero_();
      bias_residual_act_cpu_(out, bias, residual.has_value() ? std::optional<at::Tensor>(residual->expand(out_shape)) : std::nullopt, act);
    }
    return out;
  }
  // A residual that only broadcasts (rare; never in the patterns optimize() fuses) is expanded
  // to the output's shape so that both paths see one element per output element.
  std::optional<at::Tensor> res = residual;
  if (res.has_value() && res->sizes() != at::IntArrayRef(out_shape)) res = res->expand(out_shape);

  if (is_gemm(x, weight, padding, groups)) {
    return with_memory_format(conv_gemm(x, weight, bias, res, act), format);
  }
  if (use_onednn(x)) {
    const at::Tensor xin = x.contiguous(format);
    return with_memory_format(conv_onednn(xin, weight, bias, stride, padding, dilation, groups, res, act), format);
  }
  at::Tensor out = at::convolution(x.contiguous(format), weight, std::nullopt, stride, padding,
                                   dilation, /*transposed=*/false, /*output_padding=*/{0, 0}, groups);
  out = with_memory_format(out.is_contiguous(format) ? out : out.contiguous(format), format);
  bias_residual_act_cpu_(out, bias, res, act);
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("conv2d_bias_act", TORCH_FN(conv2d_bias_act_cpu));
}

}  // namespace cnnfast
