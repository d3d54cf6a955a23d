// The Python module cnnfast._C: importing it loads the library and runs the op registrations.
// The ops are reached through torch.ops.cnnfast, so this module only adds diagnostics, in the
// plain C API (no pybind11).
#include <Python.h>

#include "common/cpu_block_cache.h"
#include "common/prepacked_weights.h"
#include "conv_engine/conv_engine_cpu.h"
#include "conv_engine/route.h"

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

// _conv_path((n, c, h, w, k, r, s, sh, sw, ph, pw, dh, dw, groups), fp32, channels_last, onednn,
// into_slice): the CPU kernel conv2d_bias_act (into_slice: conv2d_bias_act_out writing a slice)
// takes for that shape (the router's decision, tested).
PyObject* conv_path(PyObject*, PyObject* args) {
  cnnfast::engine::RouteQuery q;
  auto& g = q.geo;
  int fp32 = 1, channels_last = 1, onednn = 1, into_slice = 0;
  if (!PyArg_ParseTuple(args, "(LLLLLLLLLLLLLL)ppp|p", &g.n, &g.c, &g.h, &g.w, &g.k, &g.r, &g.s, &g.sh, &g.sw,
                        &g.ph, &g.pw, &g.dh, &g.dw, &g.groups, &fp32, &channels_last, &onednn, &into_slice)) {
    return nullptr;
  }
  if (g.groups <= 0 || g.c % g.groups || g.k % g.groups) {
    PyErr_SetString(PyExc_ValueError, "_conv_path: channels must divide into groups");
    return nullptr;
  }
  g.ho = cnnfast::engine::conv_out_size(g.h, g.r, g.sh, g.ph, g.dh);
  g.wo = cnnfast::engine::conv_out_size(g.w, g.s, g.sw, g.pw, g.dw);
  q.fp32 = fp32, q.channels_last = channels_last, q.onednn = onednn;
  q.engine = cnnfast::engine::engine_available();
  const auto path = into_slice ? cnnfast::engine::route_conv_into_slice(q) : cnnfast::engine::route_conv(q);
  return PyUnicode_FromString(cnnfast::engine::conv_path_name(path));
}

PyObject* force_conv_path(PyObject*, PyObject* args) {
  int path = -1;
  if (!PyArg_ParseTuple(args, "i", &path)) return nullptr;
  const int before = cnnfast::engine::forced_conv_path();
  cnnfast::engine::set_forced_conv_path(path);
  return PyLong_FromLong(before);
}

PyObject* conv_engine_available(PyObject*, PyObject*) {
  return PyBool_FromLong(cnnfast::engine::engine_available());
}

PyMethodDef methods[] = {
    {"_conv_path", conv_path, METH_VARARGS,
     "_conv_path(geometry, fp32, channels_last, onednn): the CPU kernel conv2d_bias_act runs for it."},
    {"_force_conv_path", force_conv_path, METH_VARARGS,
     "_force_conv_path(i): run every conv on path i where it can (-1: the rule); returns the previous."},
    {"_conv_engine_available", conv_engine_available, METH_NOARGS,
     "Whether the brgemm conv engine is built in and runs on this CPU."},
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
