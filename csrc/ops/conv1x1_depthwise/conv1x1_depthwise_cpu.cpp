// conv1x1_depthwise on the CPU. Fused (fp32, channels_last): the depthwise kernel's ring of padded
// input rows is filled by the 1x1 kernel, row by row, instead of copied from a map the 1x1 conv
// wrote before: the 1x1's output (3.2 MB for MobileNetV3's 64 x 112 x 112) is never written to
// memory nor read back, and the pair costs one call. Each thread computes the 1x1 rows its own
// output rows need, so rows on the boundary between two threads' tasks are computed twice.
// Elsewhere, and where fusing does not pay (conv1x1_depthwise_fuses), the two convs run as
// conv2d_bias_act calls.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "cnnfast/ops.h"
#include "common/channel_sums.h"
#include "ops/conv1x1_depthwise/conv1x1_depthwise_cpu.h"
#include "ops/conv1x1_depthwise/conv1x1_depthwise.h"
#include "ops/conv1x1_depthwise/fuse_rule.h"
#include "ops/conv2d_bias_act/conv2d_bias_act.h"
#include "ops/conv2d_bias_act/conv2d_bias_act_cpu.h"
#include "ops/conv2d_bias_act/depthwise_conv_cpu.h"
#include "ops/conv2d_bias_act/pointwise_conv_cpu.h"

namespace cnnfast {

namespace {

// The 1x1 conv's output rows, computed on demand from x (dense channels_last).
struct PointwiseRowSource {
  const float* x;
  const PointwiseRows* conv;
  int64_t h, w;
};

void fill_pointwise_row(const void* ctx, int64_t img, int64_t iy, float* dst) {
  const auto* s = static_cast<const PointwiseRowSource*>(ctx);
  s->conv->run(s->x + (img * s->h + iy) * s->w * s->conv->cin, s->w, dst);
}

}  // namespace

at::Tensor conv1x1_depthwise_cpu(const at::Tensor& x, const at::Tensor& weight1, const std::optional<at::Tensor>& bias1,
                                 c10::string_view act1, const at::Tensor& weight2,
                                 const std::optional<at::Tensor>& bias2, at::IntArrayRef stride,
                                 at::IntArrayRef padding, at::IntArrayRef dilation, c10::string_view act2,
                                 ChannelSums* sums) {
  const auto out_shape = check_conv1x1_depthwise(x, weight1, bias1, weight2, bias2, stride, padding, dilation);
  const bool fp32 = x.scalar_type() == at::kFloat;  // the weights' dtypes are checked against x's
  const FuseQuery q{x.size(0), x.size(2), x.size(3), weight1.size(0), weight2.size(2), stride[0], at::get_num_threads()};
  if (!(fp32 && output_memory_format(x) == at::MemoryFormat::ChannelsLast && conv1x1_depthwise_fuses(q))) {
    // The composite's two convs (conv1x1_depthwise.h), the second taking the sums where its kernel can.
    const int64_t one[2] = {1, 1}, zero[2] = {0, 0};
    const at::Tensor mid = conv2d_bias_act(x, weight1, bias1, one, zero, one, 1, std::nullopt, act1);
    return conv2d_bias_act_cpu(mid, weight2, bias2, stride, padding, dilation, weight1.size(0), std::nullopt, act2,
                               sums);
  }
  const at::Tensor xc = x.contiguous(at::MemoryFormat::ChannelsLast);
  const PointwiseRows conv(weight1, bias1, parse_activation(act1));
  const PointwiseRowSource rows{xc.const_data_ptr<float>(), &conv, x.size(2), x.size(3)};
  const RowSource src{&fill_pointwise_row, &rows, x.size(0), weight1.size(0), x.size(2), x.size(3)};
  if (sums) sums->filled = true;
  return depthwise_conv_rows_cpu(src, weight2, bias2, stride, padding, dilation, parse_activation(act2), out_shape,
                                 x.options(), sums);
}

namespace {

at::Tensor conv1x1_depthwise_kernel(const at::Tensor& x, const at::Tensor& weight1,
                                    const std::optional<at::Tensor>& bias1, c10::string_view act1,
                                    const at::Tensor& weight2, const std::optional<at::Tensor>& bias2,
                                    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                    c10::string_view act2) {
  return conv1x1_depthwise_cpu(x, weight1, bias1, act1, weight2, bias2, stride, padding, dilation, act2, nullptr);
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("conv1x1_depthwise", TORCH_FN(conv1x1_depthwise_kernel));
}

}  // namespace cnnfast
