// An empty Python module so that `import cnnfast._C` loads the library and runs its op
// registrations; the ops themselves are reached through torch.ops.cnnfast, not pybind11.
#include <Python.h>

extern "C" {
PyMODINIT_FUNC PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}
