// When a CPU convolution can go to oneDNN (through ATen's mkldnn ops), shared by the conv ops.
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// fp32/bf16 with oneDNN built in and enabled, and geometry oneDNN's prepacked path handles.
bool onednn_conv_supported(const at::Tensor& x, const at::Tensor& weight, at::IntArrayRef padding,
                           at::IntArrayRef dilation);

// out += conv2d(x, weight) + bias through oneDNN's sum post-op; x and out channels_last. Written in
// place only when out is dense (a block of rows of a channels_last tensor, as preact_conv1x1 uses
// it): for a strided channel slice ATen computes into a temporary and adds it (measured; see
// csrc/ops/conv2d_bias_act_out). The weight is prepacked once per input shape
// (common/prepacked_weights.h).
void onednn_conv_add_(at::Tensor& out, const at::Tensor& x, const at::Tensor& weight,
                      const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                      at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

}  // namespace cnnfast
