// One autograd kernel for every cnnfast op: the ops are inference-only and have no backward.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

namespace cnnfast {

// Boxed Autograd kernel: raises a clear error when grad mode is on and any tensor argument
// requires grad; otherwise calls the backend kernel below autograd. Register it with
// m.impl("op", inference_only()) inside TORCH_LIBRARY_IMPL(cnnfast, Autograd, m).
void inference_only_kernel(const c10::OperatorHandle& op, torch::jit::Stack* stack);

inline torch::CppFunction inference_only() {
  return torch::CppFunction::makeFromBoxedFunction<&inference_only_kernel>();
}

}  // namespace cnnfast
