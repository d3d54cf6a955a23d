// conv2d_bias_act_out on the CPU: where the conv engine or the direct 1x1 or depthwise kernel runs
// the layer and `out` is channels_last (a channel slice of a concat buffer), its store writes
// straight into it, no temporary and no copy; elsewhere the registered conv2d_bias_act kernel, then
// one copy into the slice (why the oneDNN route cannot write in place: see conv2d_bias_act_out.cpp), which on the
// oneDNN route also applies a ReLU, ReLU6 or hard-sigmoid.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "common/activation_inplace.h"
#include "common/memory_format.h"
#include "ops/conv2d_bias_act/conv2d_bias_act.h"
#include "ops/conv2d_bias_act/conv2d_bias_act_cpu.h"
#include "conv_engine/conv_engine_cpu.h"
#include "ops/conv2d_bias_act/conv_path.h"
#include "ops/conv2d_bias_act/depthwise_conv_cpu.h"
#include "ops/conv2d_bias_act/pointwise_conv_cpu.h"
#include "ops/conv2d_bias_act_out/conv2d_bias_act_out.h"

namespace cnnfast {

namespace {

void conv2d_bias_act_out_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                             at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                             int64_t groups, const std::optional<at::Tensor>& residual, c10::string_view act,
                             at::Tensor& out) {
  check_conv2d_bias_act_out(x, weight, bias, stride, padding, dilation, groups, residual, out);
  if (out.numel() == 0) return;
  const auto format = output_memory_format(x);
  const engine::ConvGeometry geo = engine::make_geometry(x, weight, stride, padding, dilation, groups);
  const engine::ConvPath path = conv_path(x, weight, padding, dilation, geo, format);
  const Activation a = parse_activation(act);
  if (format == at::MemoryFormat::ChannelsLast && unit_channel_stride(out)) {
    if (path == engine::ConvPath::Engine || path == engine::ConvPath::Winograd) {
      engine::conv_engine_cpu(x.contiguous(format), weight, bias, geo, residual, a, out,
                              /*winograd=*/path == engine::ConvPath::Winograd);
      return;
    }
    if (path == engine::ConvPath::Pointwise && pixel_dense_nhwc(out)) {
      pointwise_conv_cpu_out(x.contiguous(format), weight, bias, residual, a, out);
      return;
    }
    if (path == engine::ConvPath::Depthwise && pixel_dense_nhwc(out)) {  // Inception-v3's branch pools
      depthwise_conv_cpu_out(x.contiguous(format), weight, bias, stride, padding, dilation, residual, a, out);
      return;
    }
  }
  if (path == engine::ConvPath::OneDnn && !onednn_post_op_keeps_nan(a)) {
    // The oneDNN route runs a ReLU-like activation as a pass of its own after the conv
    // (onednn_post_op_keeps_nan): here that pass is the copy into `out`. Inception-v3 at batch 1
    // writes 25 such layers into concat slices.
    activation_out(conv2d_bias_act_cpu(x, weight, bias, stride, padding, dilation, groups, residual, "none", nullptr),
                   out, a);
    return;
  }
  conv2d_bias_act_out_by_copy(x, weight, bias, stride, padding, dilation, groups, residual, act, out);
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("conv2d_bias_act_out", TORCH_FN(conv2d_bias_act_out_cpu));
}

}  // namespace cnnfast
