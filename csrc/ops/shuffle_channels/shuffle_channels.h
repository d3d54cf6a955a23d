// shuffle_channels: argument checks and the output layout shared by the CPU and CUDA kernels.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace cnnfast {

// Raises ValueError/TypeError naming the offending argument. Returns the total channel count of
// the inputs (the range of index values).
int64_t check_shuffle_channels(at::TensorList inputs, const at::Tensor& index, at::IntArrayRef split);

// Empty (N, split[i], H, W) outputs in the layout of inputs[0].
std::vector<at::Tensor> shuffle_channels_outputs(at::TensorList inputs, at::IntArrayRef split);

}  // namespace cnnfast
