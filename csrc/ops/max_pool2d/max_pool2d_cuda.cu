// max_pool2d on CUDA: ATen's own kernel (cuDNN-free, both layouts). Registered so that models
// optimize() rewrites run on the GPU unchanged; not re-implemented without a GPU to measure on.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/max_pool2d/max_pool2d.h"

namespace cnnfast {

namespace {

at::Tensor max_pool2d_cuda(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                           at::IntArrayRef padding, bool ceil_mode) {
  check_max_pool2d(x, kernel, stride, padding, ceil_mode);
  return at::max_pool2d(x, kernel, stride, padding, /*dilation=*/{1, 1}, ceil_mode);
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("max_pool2d", TORCH_FN(max_pool2d_cuda));
}

}  // namespace cnnfast
