// Public C++ API of cnnfast: every op callable from LibTorch through the dispatcher.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>
#include <c10/util/string_view.h>

namespace cnnfast {

// act(conv2d(x, weight, bias) + residual); x is (N, C, H, W) in NCHW or channels_last, the
// result has x's layout. residual, if given, must broadcast to the output shape.
at::Tensor conv2d_bias_act(const at::Tensor& x, const at::Tensor& weight,
                           const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                           at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                           const std::optional<at::Tensor>& residual, c10::string_view act);

// Referencing this from a program linked against libcnnfast keeps the op registrations,
// which the linker would otherwise drop as unreferenced static initialisers.
void force_link();

}  // namespace cnnfast
