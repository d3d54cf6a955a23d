// to_channels_last: argument checks and the composite kernel, shared by every backend's kernel.
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// Raises a ValueError naming the offending argument.
void check_to_channels_last(const at::Tensor& x);

// A new channels_last-contiguous copy of x through ATen's copy: the CUDA kernel, and the CPU
// kernel's path for what its own loop does not cover.
at::Tensor to_channels_last_composite(const at::Tensor& x);

}  // namespace cnnfast
