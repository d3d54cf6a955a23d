// preact_conv1x1's fused CPU loop, shared by preact_conv1x1 (a fresh output) and
// preact_conv1x1_out (a concat buffer's channel slice).
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// Whether the fused loop takes x and weight: fp32, x's channels innermost with its pixels one pitch
// apart (a channels_last map or a channel slice of one), an output map of more than one pixel, and
// geometry oneDNN could take (its fallback for the convolution).
bool preact_fused_takes(const at::Tensor& x, const at::Tensor& weight, int64_t pool);

// Whether it can write into out: channels adjacent, pixels one pitch apart (a channels_last map
// or a channel slice of one).
bool preact_fused_writes(const at::Tensor& out);

// The fused loop (checks done by the caller): into *out_slot when given (shape checked by the
// caller, preact_fused_writes), else into a new channels_last tensor; returns what it wrote.
at::Tensor preact_conv1x1_into(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                               const at::Tensor& weight, const std::optional<at::Tensor>& bias, c10::string_view act,
                               int64_t pool, at::Tensor* out_slot);

}  // namespace cnnfast
