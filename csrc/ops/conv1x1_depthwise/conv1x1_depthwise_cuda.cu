// conv1x1_depthwise on CUDA: the composite (two conv2d_bias_act calls, cuDNN with the fused
// epilogue). Not fused further: no GPU was available to measure a fused kernel against cuDNN.
#include <torch/library.h>

#include "ops/conv1x1_depthwise/conv1x1_depthwise.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("conv1x1_depthwise", TORCH_FN(conv1x1_depthwise_composite));
}

}  // namespace cnnfast
