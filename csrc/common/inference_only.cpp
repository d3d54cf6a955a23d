// The shared Autograd kernel of the cnnfast ops (see inference_only.h).
#include "common/inference_only.h"

#include <ATen/core/grad_mode.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/LegacyTypeDispatch.h>

#include <string>

namespace cnnfast {

namespace {

bool needs_grad(const c10::IValue& v) {
  if (v.isTensor()) return v.toTensor().defined() && v.toTensor().requires_grad();
  if (v.isTensorList()) {
    for (const at::Tensor& t : v.toTensorList().vec()) {
      if (t.defined() && t.requires_grad()) return true;
    }
  } else if (v.isList()) {  // Tensor?[]
    for (const c10::IValue& e : v.toListRef()) {
      if (needs_grad(e)) return true;
    }
  }
  return false;  // None for a Tensor? argument, scalars, strings
}

}  // namespace

void inference_only_kernel(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const size_t n_args = op.schema().arguments().size();
  if (at::GradMode::is_enabled()) {
    for (size_t i = stack->size() - n_args; i < stack->size(); ++i) {
      if (needs_grad((*stack)[i])) {
        const std::string name = op.schema().name().substr(std::string("cnnfast::").size());
        TORCH_CHECK(false, "cnnfast.", name, " is inference-only and has no backward: run it under "
                    "torch.no_grad()/torch.inference_mode(), or use the original model for training");
      }
    }
  }
  at::AutoDispatchBelowADInplaceOrView guard;
  op.callBoxed(stack);
}

}  // namespace cnnfast
