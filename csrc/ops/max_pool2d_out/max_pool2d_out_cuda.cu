// max_pool2d_out on CUDA: max_pool2d's kernel (ATen's) and one copy into out; not re-implemented
// without a GPU to measure on.
#include <torch/library.h>

#include "ops/max_pool2d_out/max_pool2d_out.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("max_pool2d_out", TORCH_FN(max_pool2d_out_by_copy));
}

}  // namespace cnnfast
