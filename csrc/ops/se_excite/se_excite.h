// Argument checks for se_excite, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// s (N, C); w1 (R, C); b1 (R); w2 (C, R); b2 (C); one dtype and device. ValueError/TypeError
// naming the argument otherwise.
void check_se_excite(const at::Tensor& s, const at::Tensor& w1, const std::optional<at::Tensor>& b1,
                     const at::Tensor& w2, const std::optional<at::Tensor>& b2);

}  // namespace cnnfast
