// The Python module cnnfast._C: importing it loads the library and runs the op registrations.
// The ops are reached through torch.ops.cnnfast, so this module only adds diagnostics, in the
// plain C API (no pybind11).
#include <Python.h>

#include "common/cpu_block_cache.h"
#include "common/prepacked_weights.h"

namespace {

PyObject* prepacked_weight_count(PyObject*, PyObject*) {
  return PyLong_FromLongLong(cnnfast::prepacked_conv2d_weight_count());
}

PyObject* cpu_block_cache(PyObject*, PyObject* args) {
  int enable = 0;
  long long max_bytes = 0;
  if (!PyArg_ParseTuple(args, "pL", &enable, &max_bytes)) return nullptr;
  return PyBool_FromLong(cnnfast::set_cpu_block_cache(enable != 0, max_bytes));
}

PyObject* cpu_block_cache_stats(PyObject*, PyObject*) {
  const cnnfast::CpuBlockCacheStats s = cnnfast::cpu_block_cache_stats();
  return Py_BuildValue("(NLLL)", PyBool_FromLong(s.installed), static_cast<long long>(s.cached_bytes),
                       static_cast<long long>(s.hits),
                       static_cast<long long>(s.misses));
}

PyObject* release_cpu_block_cache(PyObject*, PyObject*) {
  cnnfast::release_cpu_block_cache();
  Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"_prepacked_weight_count", prepacked_weight_count, METH_NOARGS,
     "Live entries in the cache of oneDNN-prepacked conv weights (dead weights are swept first)."},
    {"_cpu_block_cache", cpu_block_cache, METH_VARARGS,
     "_cpu_block_cache(enable, max_cached_bytes): install or remove the caching CPU allocator; returns "
     "whether it is installed (see cnnfast.memory)."},
    {"_cpu_block_cache_stats", cpu_block_cache_stats, METH_NOARGS,
     "(installed, cached bytes, hits, misses) of the caching CPU allocator."},
    {"_release_cpu_block_cache", release_cpu_block_cache, METH_NOARGS,
     "Return every block the caching CPU allocator holds free to the system."},
    {nullptr, nullptr, 0, nullptr}};

}  // namespace

extern "C" {
PyMODINIT_FUNC PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, methods};
  return PyModule_Create(&module_def);
}
}
