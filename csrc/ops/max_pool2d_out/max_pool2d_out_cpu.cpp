// max_pool2d_out on the CPU: a channels_last input pooled straight into out through its strides
// (a concat buffer's channel slice), with max_pool2d's own kernel; anything else by copy.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/max_pool2d/max_pool_nhwc_cpu.h"
#include "ops/max_pool2d_out/max_pool2d_out.h"

namespace cnnfast {

namespace {

void max_pool2d_out_cpu(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                        bool ceil_mode, at::Tensor& out) {
  check_max_pool2d_out(x, kernel, stride, padding, ceil_mode, out);
  if (max_pool_nhwc_input(x) && (out.stride(1) == 1 || out.size(1) == 1)) {
    max_pool2d_nhwc_into(x, out, kernel, stride, padding);
    return;
  }
  max_pool2d_out_by_copy(x, kernel, stride, padding, ceil_mode, out);
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("max_pool2d_out", TORCH_FN(max_pool2d_out_cpu));
}

}  // namespace cnnfast
