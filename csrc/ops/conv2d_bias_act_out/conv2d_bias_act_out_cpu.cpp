// conv2d_bias_act_out on the CPU: oneDNN's convolution through conv2d_bias_act, then one copy into
// the slice (why not a direct write: see conv2d_bias_act_out.cpp).
#include <torch/library.h>

#include "ops/conv2d_bias_act_out/conv2d_bias_act_out.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("conv2d_bias_act_out", TORCH_FN(conv2d_bias_act_out_by_copy));
}

}  // namespace cnnfast
