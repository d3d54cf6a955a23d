// preact_conv1x1_out on CUDA: preact_conv1x1's kernel (ATen prologue + conv) and one copy into out;
// not re-implemented without a GPU to measure on.
#include <torch/library.h>

#include "ops/preact_conv1x1_out/preact_conv1x1_out.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("preact_conv1x1_out", TORCH_FN(preact_conv1x1_out_by_copy));
}

}  // namespace cnnfast
