// small_cnn: a whole small CNN in one call. The program's layer list, its checks, and the
// composite (ATen) version other dtypes and devices run.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "cnnfast/activation.h"

namespace cnnfast {

// One layer of the program: six ints each, conv layers first, then linear layers (the first one
// flattens the (C, H, W) map in NCHW order, as nn.Flatten does).
//   conv:   [0, stride, padding, act, pool, pool_size]: act(conv2d(x, w) + b), then a pool_size x
//           pool_size pool with the same stride, no padding, floor mode (pool: 0 none, 1 average,
//           2 max); the kernel size comes from the weight (O, I, KH, KW).
//   linear: [1, act, 0, 0, 0, 0]: act(x @ w.T + b), w (O, K).
// act: the index in cnnfast.contracts.activations.ACTIVATIONS (none, relu, relu6, silu, sigmoid, hardswish,
// hardsigmoid, tanh), the order of the Activation enum.
constexpr int64_t kSmallCnnFields = 6;

struct SmallCnnLayer {
  bool conv;
  int64_t stride, padding, pool, pool_size, kh, kw;
  Activation act;
  // Shapes, filled in by check_small_cnn: input (c, h, w) of this layer and its output.
  int64_t in_c, in_h, in_w, out_c, out_h, out_w;  // conv: before pooling
  int64_t pooled_h, pooled_w;                     // conv: after pooling (= out_h, out_w without)
};

// Layer i's bias, or nullopt where biases[i] is empty (numel 0): the schema takes Tensor[] rather
// than Tensor?[], which torch.jit.trace cannot record.
inline std::optional<at::Tensor> bias_of(at::TensorList biases, size_t i) {
  return biases[i].numel() == 0 ? std::nullopt : std::optional<at::Tensor>(biases[i]);
}

// Raises ValueError/TypeError naming the offending layer; returns the layers with their shapes.
std::vector<SmallCnnLayer> check_small_cnn(const at::Tensor& x, at::TensorList weights,
                                           at::TensorList biases,
                                           at::IntArrayRef program);

// The same computation with ATen ops, layer by layer (any dtype, any device).
at::Tensor small_cnn_composite(const at::Tensor& x, at::TensorList weights,
                               at::TensorList biases, at::IntArrayRef program);

}  // namespace cnnfast
