// se_excite on the CPU: both FC layers through linear_act_cpu (common/linear_cpu.h), which at SE
// batch sizes streams each weight matrix once with threads splitting its rows. The hidden layer is
// stored in the input dtype, rounded as the unfused FC layer's output would be.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "common/linear_cpu.h"
#include "ops/se_excite/se_excite.h"

namespace cnnfast {

namespace {

at::Tensor se_excite_cpu(const at::Tensor& s, const at::Tensor& w1, const std::optional<at::Tensor>& b1,
                         const at::Tensor& w2, const std::optional<at::Tensor>& b2,
                         c10::string_view act1, c10::string_view act2) {
  check_se_excite(s, w1, b1, w2, b2);
  const at::Tensor hidden = linear_act_cpu(s, w1, b1, parse_activation(act1));
  return linear_act_cpu(hidden, w2, b2, parse_activation(act2));
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("se_excite", TORCH_FN(se_excite_cpu));
}

}  // namespace cnnfast
