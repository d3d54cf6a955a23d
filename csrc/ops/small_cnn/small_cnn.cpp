// small_cnn: the C++ entry point, the program's checks, the composite version and the autograd guard.
#include "ops/small_cnn/small_cnn.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "cnnfast/ops.h"
#include "common/activation_inplace.h"
#include "common/checks.h"
#include "common/inference_only.h"

namespace cnnfast {

std::vector<SmallCnnLayer> check_small_cnn(const at::Tensor& x, at::TensorList weights,
                                           at::TensorList biases,
                                           at::IntArrayRef program) {
  TORCH_CHECK_VALUE(x.dim() == 4, "cnnfast.small_cnn: x must be 4-D (N, C, H, W), got ", x.dim(), "-D of shape ",
                    x.sizes());
  check_floating(x, "small_cnn", "x");
  const int64_t n_layers = static_cast<int64_t>(weights.size());
  TORCH_CHECK_VALUE(n_layers >= 1 && static_cast<int64_t>(program.size()) == n_layers * kSmallCnnFields &&
                        static_cast<int64_t>(biases.size()) == n_layers,
                    "cnnfast.small_cnn: program must have ", kSmallCnnFields, " ints per layer and one weight "
                    "and one bias (or None) per layer; got ", program.size(), " ints, ", weights.size(),
                    " weights, ", biases.size(), " biases");
  std::vector<SmallCnnLayer> layers;
  int64_t c = x.size(1), h = x.size(2), w = x.size(3);
  bool flat = false;
  for (int64_t i = 0; i < n_layers; ++i) {
    const int64_t* f = program.data() + i * kSmallCnnFields;
    const at::Tensor& wt = weights[i];
    check_same(wt, x, "small_cnn", "a weight");
    const std::optional<at::Tensor> b = bias_of(biases, i);
    TORCH_CHECK_VALUE(f[0] == 0 || f[0] == 1, "cnnfast.small_cnn: layer ", i, " kind must be 0 (conv) or 1 "
                      "(linear), got ", f[0]);
    const int64_t act_code = f[0] == 0 ? f[3] : f[1];
    TORCH_CHECK_VALUE(act_code >= 0 && act_code <= static_cast<int64_t>(Activation::Tanh),
                      "cnnfast.small_cnn: layer ", i, " has activation code ", act_code, " (0-7 allowed)");
    SmallCnnLayer L{};
    L.conv = f[0] == 0;
    L.act = static_cast<Activation>(act_code);
    L.in_c = c, L.in_h = h, L.in_w = w;
    if (L.conv) {
      TORCH_CHECK_VALUE(!flat, "cnnfast.small_cnn: conv layer ", i, " follows a linear layer");
      TORCH_CHECK_VALUE(wt.dim() == 4 && wt.size(1) == c, "cnnfast.small_cnn: conv layer ", i,
                        " weight must be (O, ", c, ", KH, KW), got ", wt.sizes());
      L.stride = f[1], L.padding = f[2], L.pool = f[4], L.pool_size = f[5];
      TORCH_CHECK_VALUE(L.stride >= 1 && L.padding >= 0 && L.pool >= 0 && L.pool <= 2 &&
                            (L.pool == 0 || L.pool_size >= 1),
                        "cnnfast.small_cnn: conv layer ", i, " has stride ", L.stride, ", padding ", L.padding,
                        ", pool ", L.pool, " of size ", L.pool_size);
      L.out_c = wt.size(0), L.kh = wt.size(2), L.kw = wt.size(3);
      L.out_h = (h + 2 * L.padding - wt.size(2)) / L.stride + 1;
      L.out_w = (w + 2 * L.padding - wt.size(3)) / L.stride + 1;
      TORCH_CHECK_VALUE(h + 2 * L.padding >= wt.size(2) && w + 2 * L.padding >= wt.size(3),
                        "cnnfast.small_cnn: conv layer ", i, " kernel ", wt.sizes().slice(2), " is larger than "
                        "its padded input ", h, "x", w);
      L.pooled_h = L.pool ? L.out_h / L.pool_size : L.out_h;
      L.pooled_w = L.pool ? L.out_w / L.pool_size : L.out_w;
      TORCH_CHECK_VALUE(L.pooled_h >= 1 && L.pooled_w >= 1, "cnnfast.small_cnn: conv layer ", i, "'s ",
                        L.out_h, "x", L.out_w, " map is smaller than its ", L.pool_size, "x", L.pool_size, " pool");
      c = L.out_c, h = L.pooled_h, w = L.pooled_w;
    } else {
      const int64_t k = flat ? c : c * h * w;
      TORCH_CHECK_VALUE(wt.dim() == 2 && wt.size(1) == k, "cnnfast.small_cnn: linear layer ", i,
                        " weight must be (O, ", k, "), got ", wt.sizes());
      flat = true;
      L.in_c = k, L.in_h = L.in_w = 1;
      L.out_c = wt.size(0), L.out_h = L.out_w = L.pooled_h = L.pooled_w = 1;
      c = L.out_c, h = w = 1;
    }
    if (b.has_value()) {
      check_same(*b, x, "small_cnn", "a bias");
      TORCH_CHECK_VALUE(b->dim() == 1 && b->size(0) == L.out_c, "cnnfast.small_cnn: layer ", i,
                        " bias must be (", L.out_c, "), got ", b->sizes());
    }
    layers.push_back(L);
  }
  return layers;
}

at::Tensor small_cnn_composite(const at::Tensor& x, at::TensorList weights,
                               at::TensorList biases, at::IntArrayRef program) {
  const auto layers = check_small_cnn(x, weights, biases, program);
  at::Tensor y = x;
  for (size_t i = 0; i < layers.size(); ++i) {
    const SmallCnnLayer& L = layers[i];
    const std::optional<at::Tensor> b = bias_of(biases, i);
    if (L.conv) {
      y = at::conv2d(y, weights[i], b, {L.stride, L.stride}, {L.padding, L.padding});
    } else {
      if (y.dim() != 2) y = y.flatten(1);
      y = at::linear(y, weights[i], b);
    }
    activation_(y, L.act);
    if (L.pool == 1) y = at::avg_pool2d(y, {L.pool_size, L.pool_size});
    if (L.pool == 2) y = at::max_pool2d(y, {L.pool_size, L.pool_size});
  }
  return y.contiguous();
}

at::Tensor small_cnn(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                     at::IntArrayRef program) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("cnnfast::small_cnn", "")
                       .typed<decltype(small_cnn)>();
  return op.call(x, weights, biases, program);
}

TORCH_LIBRARY_IMPL(cnnfast, Autograd, m) {
  m.impl("small_cnn", inference_only());
}

}  // namespace cnnfast
