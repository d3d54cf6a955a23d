// conv2d_bias_act_mean on the CPU. Where the routed kernel can (the direct depthwise, 1x1 and
// grouped kernels and the conv engine, fp32 channels_last), each task adds the output block it
// has just stored, still in L1/L2, into its thread's per-channel partial sums (the engine adds
// each value from its register), and the means come from those partials: the squeeze costs no
// pass of its own over the map. Elsewhere: conv2d_bias_act, then se_squeeze of its output.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "common/channel_sums.h"
#include "ops/conv2d_bias_act/conv2d_bias_act.h"
#include "ops/conv2d_bias_act/conv2d_bias_act_cpu.h"
#include "ops/conv2d_bias_act_mean/conv2d_bias_act_mean.h"

namespace cnnfast {

namespace {

std::tuple<at::Tensor, at::Tensor> conv2d_bias_act_mean_cpu(
    const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups, const std::optional<at::Tensor>& residual,
    c10::string_view act) {
  const auto out_shape = check_conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual);
  if (x.scalar_type() != at::kFloat || output_memory_format(x) != at::MemoryFormat::ChannelsLast) {
    return conv2d_bias_act_mean_composite(x, weight, bias, stride, padding, dilation, groups, residual, act);
  }
  ChannelSums sums(out_shape[0], out_shape[1], out_shape[2] * out_shape[3], at::get_num_threads());
  at::Tensor out = conv2d_bias_act_cpu(x, weight, bias, stride, padding, dilation, groups, residual, act, &sums);
  at::Tensor mean = sums.means_of(out);
  return {std::move(out), std::move(mean)};
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("conv2d_bias_act_mean", TORCH_FN(conv2d_bias_act_mean_cpu));
}

}  // namespace cnnfast
