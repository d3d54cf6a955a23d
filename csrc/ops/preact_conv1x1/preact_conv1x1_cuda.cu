// preact_conv1x1 on CUDA: the composite (ATen's elementwise prologue and pool, then
// conv2d_bias_act's cuDNN convolution and fused epilogue). Not fused further: no GPU was available
// to measure a fused prologue against cuDNN (see the GPU issue).
#include <torch/library.h>

#include "ops/preact_conv1x1/preact_conv1x1.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("preact_conv1x1", TORCH_FN(preact_conv1x1_composite));
}

}  // namespace cnnfast
