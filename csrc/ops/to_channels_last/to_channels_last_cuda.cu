// to_channels_last on CUDA: ATen's strided copy (one kernel, already at memory speed there).
#include <torch/library.h>

#include "ops/to_channels_last/to_channels_last.h"

namespace cnnfast {

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("to_channels_last", TORCH_FN(to_channels_last_composite));
}

}  // namespace cnnfast
