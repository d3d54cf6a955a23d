// Argument checks shared by the ops: errors that name the op and the offending argument.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

namespace cnnfast {

// t must have the dtype and device of x, the op's main input named x_name (TypeError / ValueError).
inline void check_same(const at::Tensor& t, const at::Tensor& x, const char* op, const char* name,
                       const char* x_name = "x") {
  TORCH_CHECK_TYPE(t.scalar_type() == x.scalar_type(), "cnnfast.", op, ": ", name, " dtype ",
                   t.scalar_type(), " differs from ", x_name, " dtype ", x.scalar_type());
  TORCH_CHECK_VALUE(t.device() == x.device(), "cnnfast.", op, ": ", name, " is on ", t.device(),
                    " but ", x_name, " is on ", x.device());
}

// The `out` of an op that writes into a caller's tensor (conv2d_bias_act_out, max_pool2d_out,
// preact_conv1x1_out): the op's output shape, x's dtype and device, no element twice (an expanded
// tensor), and no memory shared with x, which the op would read while writing (ValueError /
// TypeError). Defined in checks.cpp.
void check_out_tensor(const at::Tensor& out, const at::Tensor& x, at::IntArrayRef shape, const char* op,
                      const char* what);

inline void check_floating(const at::Tensor& x, const char* op, const char* name) {
  TORCH_CHECK_TYPE(at::isFloatingType(x.scalar_type()), "cnnfast.", op, ": ", name,
                   " must be a floating tensor, got ", x.scalar_type());
}

}  // namespace cnnfast
