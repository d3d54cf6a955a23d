// shuffle_channels on CUDA: ATen's cat + index_select + per-output copy. Registered so that models
// optimize() rewrites run on the GPU unchanged; a fused gather kernel was not written without a GPU
// to measure it on (the Triton version, cnnfast/triton/shuffle_channels.py, is one).
#include <ATen/ATen.h>
#include <torch/library.h>

#include "common/memory_format.h"
#include "ops/shuffle_channels/shuffle_channels.h"

namespace cnnfast {

namespace {

std::vector<at::Tensor> shuffle_channels_cuda(at::TensorList inputs, const at::Tensor& index, at::IntArrayRef split) {
  check_shuffle_channels(inputs, index, split);
  std::vector<at::Tensor> outs = shuffle_channels_outputs(inputs, split);
  const at::Tensor gathered = at::cat(inputs, 1).index_select(1, index);
  int64_t start = 0;
  for (size_t o = 0; o < outs.size(); ++o) {
    outs[o].copy_(gathered.narrow(1, start, split[o]));
    start += split[o];
  }
  return outs;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("shuffle_channels", TORCH_FN(shuffle_channels_cuda));
}

}  // namespace cnnfast
