// out = act(out) in place through ATen's own (vectorised, NaN-preserving) activation ops, on any
// device: for activations the kernels do not apply inline (see is_cheap in cnnfast/activation.h).
#pragma once

#include <ATen/core/Tensor.h>

#include "cnnfast/activation.h"

namespace cnnfast {

void activation_(at::Tensor& out, Activation act);

}  // namespace cnnfast
