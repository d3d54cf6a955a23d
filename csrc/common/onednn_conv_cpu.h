// When a CPU convolution can go to oneDNN (through ATen's mkldnn ops), shared by the conv ops.
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// fp32/bf16 with oneDNN built in and enabled, and geometry oneDNN's prepacked path handles.
bool onednn_conv_supported(const at::Tensor& x, const at::Tensor& weight, at::IntArrayRef padding,
                           at::IntArrayRef dilation);

// out += conv2d(x, weight) + bias, written by oneDNN straight into `out` (its sum post-op), which
// may be a channel slice of a larger channels_last buffer; x must be channels_last. The weight is
// prepacked once per input shape (common/prepacked_weights.h).
void onednn_conv_add_(at::Tensor& out, const at::Tensor& x, const at::Tensor& weight,
                      const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                      at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

}  // namespace cnnfast
