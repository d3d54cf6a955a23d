// The Python module cnnfast._C: importing it loads the library and runs the op registrations.
// The ops are reached through torch.ops.cnnfast, so this module only adds diagnostics, in the
// plain C API (no pybind11).
#include <Python.h>

#include "common/prepacked_weights.h"

namespace {

PyObject* prepacked_weight_count(PyObject*, PyObject*) {
  return PyLong_FromLongLong(cnnfast::prepacked_conv2d_weight_count());
}

PyMethodDef methods[] = {
    {"_prepacked_weight_count", prepacked_weight_count, METH_NOARGS,
     "Live entries in the cache of oneDNN-prepacked conv weights (dead weights are swept first)."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

extern "C" {
PyMODINIT_FUNC PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, methods};
  return PyModule_Create(&module_def);
}
}
