// A direct 1x1 convolution for channels_last fp32 maps with small or L2-resident weights (see pointwise_conv_cpu.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "cnnfast/activation.h"
#include "conv_engine/geometry.h"

namespace cnnfast {

class ChannelSums;

// True when geo is a 1x1, stride-1, unpadded conv with one group of a size where
// pointwise_conv_cpu was measured faster than oneDNN (fp32 channels_last: checked by the router).
bool pointwise_direct_supported(const engine::ConvGeometry& geo);

// act(conv1x1(x) + bias + residual) into a new channels_last tensor of shape out_shape; x must be
// a dense channels_last tensor. sums (optional): the output's per-channel sums, added block by
// block as each is stored.
at::Tensor pointwise_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                              const std::optional<at::Tensor>& residual, Activation act, at::IntArrayRef out_shape,
                              ChannelSums* sums = nullptr);

// pointwise_conv_cpu written into out (its shape; pixel_dense_nhwc in common/memory_format.h), so a
// concat buffer's channel slice gets the layer with no temporary and no copy. The residual, if
// any, has out's shape.
void pointwise_conv_cpu_out(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                            const std::optional<at::Tensor>& residual, Activation act, at::Tensor& out);

// A 1x1 conv prepared once per call (weight packed, bias padded) and then run by each thread over
// runs of its own pixels: the fused conv1x1_depthwise op computes its 1x1 rows straight into the
// depthwise kernel's ring (csrc/ops/conv1x1_depthwise).
struct PointwiseRows {
  PointwiseRows(const at::Tensor& weight, const std::optional<at::Tensor>& bias, Activation act);
  // act(x @ W^T + bias) for `pixels` consecutive pixels of x (dense, cin floats apart) into out,
  // pixels round_up(cout, 16) floats apart: every vector is stored whole, the lanes past cout
  // included (finite unless x holds an Inf or NaN).
  void run(const float* x, int64_t pixels, float* out) const;

  int64_t cin, cout;
  Activation act;
  at::Tensor packed;
  std::vector<float> bias;
};

}  // namespace cnnfast
