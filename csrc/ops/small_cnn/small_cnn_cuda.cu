// small_cnn on CUDA: the composite version (cuDNN convs, ATen activations, pools and GEMMs).
// On a GPU a small CNN's cost is launches, which cnnfast.optimize(..., cuda_graphs=True) removes
// for the whole model; a hand-written whole-network kernel has not been measured against that.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/small_cnn/small_cnn.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("small_cnn", TORCH_FN(small_cnn_composite));
}

}  // namespace cnnfast
