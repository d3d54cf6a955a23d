// TORCH_LIBRARY(cnnfast): every op's schema, in C++ so that a C++ process running a TorchScript
// model sees the ops without Python. Kernels register per dispatch key in csrc/ops/<op>/.
#include <torch/library.h>

#include "cnnfast/ops.h"

TORCH_LIBRARY(cnnfast, m) {
  // act(conv2d(x, weight) + bias + residual), one pass over the output; see csrc/ops/conv2d_bias_act.
  m.def(
      "conv2d_bias_act(Tensor x, Tensor weight, Tensor? bias, int[2] stride, int[2] padding, "
      "int[2] dilation, int groups, Tensor? residual, str act) -> Tensor");
}

namespace cnnfast {
void force_link() {}
}  // namespace cnnfast
