// conv1x1_depthwise_mean on CUDA: the composite (the two convs, then se_squeeze's kernel reading
// the map back). Not fused: no GPU was available to measure a fused kernel.
#include <torch/library.h>

#include "ops/conv1x1_depthwise_mean/conv1x1_depthwise_mean.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("conv1x1_depthwise_mean", TORCH_FN(conv1x1_depthwise_mean_composite));
}

}  // namespace cnnfast
