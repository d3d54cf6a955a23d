// The Python bindings of replay::OpProgram (built into cnnfast._C only, not the LibTorch library).
#pragma once

#include <pybind11/pybind11.h>

namespace cnnfast {

void bind_op_program(pybind11::module& m);

}  // namespace cnnfast
