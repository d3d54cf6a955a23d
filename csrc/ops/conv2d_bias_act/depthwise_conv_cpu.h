// A direct depthwise convolution for channels_last fp32 maps (see depthwise_conv_cpu.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>

#include "cnnfast/activation.h"
#include "conv_engine/geometry.h"

namespace cnnfast {

class ChannelSums;

// True when geo is a depthwise conv with one filter per channel, small enough that
// depthwise_conv_cpu is faster than oneDNN (fp32 channels_last: checked by the router), on a CPU
// with AVX-512 (the 16-lane build) or without (the AVX2 build).
bool depthwise_direct_supported(const engine::ConvGeometry& geo, bool avx512);

// act(depthwise_conv(x) + bias + residual) into a new channels_last tensor of shape out_shape;
// x must be a dense channels_last tensor. sums (optional): the output's per-channel sums, added
// row by row as each row is stored.
at::Tensor depthwise_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                              at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                              const std::optional<at::Tensor>& residual, Activation act,
                              at::IntArrayRef out_shape, ChannelSums* sums = nullptr);

// The same into `out`, a channels_last tensor of the output's shape whose pixels may lie further
// apart than its channels (pixel_dense_nhwc: a concat buffer's channel slice), written in place.
void depthwise_conv_cpu_out(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                            at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                            const std::optional<at::Tensor>& residual, Activation act, at::Tensor& out);

// The depthwise conv's input produced row by row instead of read from memory (the fused
// conv1x1_depthwise op): fill(ctx, img, iy, dst) writes row iy of image img, w pixels C rounded up
// to 16 floats apart, straight into the kernel's ring of padded rows. Whole vectors: the lanes past
// C may hold anything (their filter taps are zero and their sums are never stored).
struct RowSource {
  void (*fill)(const void* ctx, int64_t img, int64_t iy, float* dst);
  const void* ctx;
  int64_t n, c, h, w;  // the produced map's shape
};

// act(depthwise_conv(map) + bias) of the map src produces, into a new channels_last tensor of
// shape out_shape (options: its dtype and device). Threads split output rows, each producing the
// input rows its own need: rows its window shares with the next task's are produced by both.
// sums (optional): the output's per-channel sums, as depthwise_conv_cpu.
at::Tensor depthwise_conv_rows_cpu(const RowSource& src, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                                   at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                   Activation act, at::IntArrayRef out_shape, const at::TensorOptions& options,
                                   ChannelSums* sums = nullptr);

}  // namespace cnnfast
