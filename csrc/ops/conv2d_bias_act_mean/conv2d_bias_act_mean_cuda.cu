// conv2d_bias_act_mean on CUDA: the composite (conv2d_bias_act, then se_squeeze's kernel reading
// the map back). Not fused into the epilogue: no GPU was available to measure a fused kernel.
#include <torch/library.h>

#include "ops/conv2d_bias_act_mean/conv2d_bias_act_mean.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("conv2d_bias_act_mean", TORCH_FN(conv2d_bias_act_mean_composite));
}

}  // namespace cnnfast
