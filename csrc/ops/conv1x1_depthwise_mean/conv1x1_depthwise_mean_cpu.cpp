// conv1x1_depthwise_mean on the CPU: conv1x1_depthwise's kernel (fused or as two convs), whose
// depthwise kernel adds each output row it has just stored into its thread's per-channel partial
// sums (common/channel_sums.h); the means come from those, with no second read of the map.
// Where the depthwise conv runs on a kernel that cannot (other dtypes, NCHW): se_squeeze after.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "common/channel_sums.h"
#include "ops/conv1x1_depthwise/conv1x1_depthwise.h"
#include "ops/conv1x1_depthwise/conv1x1_depthwise_cpu.h"

namespace cnnfast {

namespace {

std::tuple<at::Tensor, at::Tensor> conv1x1_depthwise_mean_cpu(
    const at::Tensor& x, const at::Tensor& weight1, const std::optional<at::Tensor>& bias1, c10::string_view act1,
    const at::Tensor& weight2, const std::optional<at::Tensor>& bias2, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, c10::string_view act2) {
  const auto out_shape = check_conv1x1_depthwise(x, weight1, bias1, weight2, bias2, stride, padding, dilation);
  ChannelSums sums(out_shape[0], out_shape[1], out_shape[2] * out_shape[3], at::get_num_threads());
  at::Tensor out = conv1x1_depthwise_cpu(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2,
                                         &sums);
  at::Tensor mean = sums.means_of(out);
  return {std::move(out), std::move(mean)};
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("conv1x1_depthwise_mean", TORCH_FN(conv1x1_depthwise_mean_cpu));
}

}  // namespace cnnfast
