// preact_conv1x1_out on the CPU: preact_conv1x1's fused loop writing the caller's tensor (a concat
// buffer's channel slice) through its pixel pitch; anything the loop does not take, by copy.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/preact_conv1x1/preact_conv1x1_cpu.h"
#include "ops/preact_conv1x1_out/preact_conv1x1_out.h"

namespace cnnfast {

namespace {

void preact_conv1x1_out_cpu(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                            const at::Tensor& weight, const std::optional<at::Tensor>& bias, c10::string_view act,
                            int64_t pool, at::Tensor& out) {
  check_preact_conv1x1_out(x, scale, shift, weight, bias, pool, out);
  if (preact_fused_takes(x, weight, pool) && preact_fused_writes(out)) {
    preact_conv1x1_into(x, scale, shift, weight, bias, act, pool, &out);
    return;
  }
  preact_conv1x1_out_by_copy(x, scale, shift, weight, bias, act, pool, out);
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("preact_conv1x1_out", TORCH_FN(preact_conv1x1_out_cpu));
}

}  // namespace cnnfast
