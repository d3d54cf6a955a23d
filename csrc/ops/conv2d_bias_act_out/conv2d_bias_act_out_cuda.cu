// conv2d_bias_act_out on CUDA: cuDNN's convolution and cnnfast's epilogue (conv2d_bias_act's CUDA
// kernel), then one copy into the slice. The Triton path (backend="triton" / gpu_backend "triton")
// stores straight into the slice from its epilogue instead.
#include <torch/library.h>

#include "ops/conv2d_bias_act_out/conv2d_bias_act_out.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("conv2d_bias_act_out", TORCH_FN(conv2d_bias_act_out_by_copy));
}

}  // namespace cnnfast
