// out = act(out) in place through ATen's own (vectorised, NaN-preserving) activation ops, on any
// device: for activations the kernels do not apply inline (see is_cheap in cnnfast/activation.h),
// and oneDNN's post-ops that lose a NaN.
#pragma once

#include <ATen/core/Tensor.h>

#include "cnnfast/activation.h"

namespace cnnfast {

void activation_(at::Tensor& out, Activation act);

// out = act(src) in one pass through ATen's out= forms (same values as activation_ on a copy):
// out may be strided (a concat buffer's channel slice), so a copy and an activation pass become one.
void activation_out(const at::Tensor& src, at::Tensor& out, Activation act);

}  // namespace cnnfast
