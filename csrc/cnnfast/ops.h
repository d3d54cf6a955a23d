// Public C++ API of cnnfast: every op callable from LibTorch through the dispatcher.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <c10/util/string_view.h>

#include <tuple>
#include <vector>

namespace cnnfast {

// act(conv2d(x, weight, bias) + residual); x is (N, C, H, W) in NCHW or channels_last, the
// result has x's layout. residual, if given, must broadcast to the output shape.
at::Tensor conv2d_bias_act(const at::Tensor& x, const at::Tensor& weight,
                           const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                           at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                           const std::optional<at::Tensor>& residual, c10::string_view act);

// conv2d_bias_act written into out (shape of the result, x's dtype and device, any strides: a
// channel slice of a larger buffer), which must not overlap x.
void conv2d_bias_act_out(const at::Tensor& x, const at::Tensor& weight,
                         const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                         at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                         const std::optional<at::Tensor>& residual, c10::string_view act, at::Tensor& out);

// conv2d_bias_act and the per-channel mean of its output over H x W: (out, mean (N, C_out)), as
// se_squeeze(out) would give it (to float rounding: the sums are added in another order).
std::tuple<at::Tensor, at::Tensor> conv2d_bias_act_mean(const at::Tensor& x, const at::Tensor& weight,
                                                        const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                                        at::IntArrayRef padding, at::IntArrayRef dilation,
                                                        int64_t groups, const std::optional<at::Tensor>& residual,
                                                        c10::string_view act);

// act2(depthwise_conv(act1(conv1x1(x, weight1) + bias1), weight2) + bias2): x (N, C, H, W) either
// layout; weight1 (C_mid, C, 1, 1); weight2 (C_mid, 1, kH, kW), one filter per channel; biases
// (C_mid) or none. The result has x's layout.
at::Tensor conv1x1_depthwise(const at::Tensor& x, const at::Tensor& weight1, const std::optional<at::Tensor>& bias1,
                             c10::string_view act1, const at::Tensor& weight2,
                             const std::optional<at::Tensor>& bias2, at::IntArrayRef stride,
                             at::IntArrayRef padding, at::IntArrayRef dilation, c10::string_view act2);

// conv1x1_depthwise and the per-channel mean of its output over H x W: (out, mean (N, C_mid)).
std::tuple<at::Tensor, at::Tensor> conv1x1_depthwise_mean(const at::Tensor& x, const at::Tensor& weight1,
                                                          const std::optional<at::Tensor>& bias1,
                                                          c10::string_view act1, const at::Tensor& weight2,
                                                          const std::optional<at::Tensor>& bias2,
                                                          at::IntArrayRef stride, at::IntArrayRef padding,
                                                          at::IntArrayRef dilation, c10::string_view act2);

// act(conv1x1(avg_pool(relu(x * scale[c] + shift[c]), pool), weight) + bias): x (N, C, H, W),
// either layout or a channel slice of a channels_last buffer; scale, shift (C); weight
// (C_out, C, 1, 1); pool 1 (none) or 2 (2x2 average pool, stride 2, floor).
at::Tensor preact_conv1x1(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                          const at::Tensor& weight, const std::optional<at::Tensor>& bias, c10::string_view act,
                          int64_t pool = 1);

// preact_conv1x1 written into out (the op's output shape, x's dtype and device, any strides: a
// channel slice of a concat buffer); out must not overlap x.
void preact_conv1x1_out(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                        const at::Tensor& weight, const std::optional<at::Tensor>& bias, c10::string_view act,
                        int64_t pool, at::Tensor& out);

// x (N, C, H, W) in any layout copied into a new channels_last tensor.
at::Tensor to_channels_last(const at::Tensor& x);

// torch.nn.functional.max_pool2d with dilation 1 and no indices; the result keeps x's layout.
at::Tensor max_pool2d(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                      bool ceil_mode);

// max_pool2d written into out (the pool's output shape, x's dtype and device, any strides: a
// channel slice of a concat buffer); out must not overlap x.
void max_pool2d_out(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                    bool ceil_mode, at::Tensor& out);

// act(x @ weight^T + bias): x (N, K), weight (M, K), bias (M) or none -> (N, M).
at::Tensor linear_bias_act(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                           c10::string_view act);

// A whole small CNN (convs with activation and pooling, then linear layers) in one call; the
// program lists the layers, six ints each; an empty bias means none (see csrc/ops/small_cnn/small_cnn.h).
at::Tensor small_cnn(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                     at::IntArrayRef program);

// cat(inputs, 1)[:, index] split into tensors of split[i] channels, in inputs[0]'s layout; inputs
// (N, C_i, H, W) share N, H, W; index (int64, on the inputs' device) has sum(split) values in
// [0, sum C_i).
std::vector<at::Tensor> shuffle_channels(at::TensorList inputs, const at::Tensor& index, at::IntArrayRef split);

// Squeeze-and-excitation, as three ops (Hu et al. 2017; csrc/ops/se_*):
// se_squeeze: the per-channel mean over H x W of x (N, C, H, W), either layout -> (N, C).
at::Tensor se_squeeze(const at::Tensor& x);

// se_excite: act2(act1(s @ w1^T + b1) @ w2^T + b2), the SE block's two small FC layers.
// s (N, C); w1 (R, C); b1 (R) or none; w2 (C, R); b2 (C) or none -> (N, C).
at::Tensor se_excite(const at::Tensor& s, const at::Tensor& w1, const std::optional<at::Tensor>& b1,
                     const at::Tensor& w2, const std::optional<at::Tensor>& b2,
                     c10::string_view act1, c10::string_view act2);

// se_scale: act(x * gate[:, :, None, None] + residual) in one pass. x (N, C, H, W) either layout;
// gate (N, C) or (N, C, 1, 1); residual (optional) x's shape. The result has x's layout.
at::Tensor se_scale(const at::Tensor& x, const at::Tensor& gate,
                    const std::optional<at::Tensor>& residual, c10::string_view act);

// se_scale written over x (which must not be needed afterwards).
void se_scale_(at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual,
                      c10::string_view act);

// Referencing this from a program linked against libcnnfast keeps the op registrations,
// which the linker would otherwise drop as unreferenced static initialisers.
void force_link();

}  // namespace cnnfast
