// The Python module cnnfast._C: importing it loads the library and runs the op registrations.
// The ops themselves are reached through torch.ops.cnnfast; this module only adds diagnostics
// and the block cache's switches, bound with pybind11 (the copy torch ships with its headers).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "allocator/block_cache.h"
#include "common/cpu_isa.h"
#include "common/cpu_vendor.h"
#include "common/prepacked_weights.h"
#include "conv_engine/conv_engine_cpu.h"
#include "conv_engine/route.h"
#include "conv_engine/tiling.h"
#include "ops/conv1x1_depthwise/fuse_rule.h"
#include "python/op_program_binding.h"

namespace py = pybind11;

namespace {

// A CpuVendor index from Python, or -1 for the running CPU's.
int checked_vendor(int vendor) {
  if (vendor < -1 || vendor > static_cast<int>(cnnfast::CpuVendor::Amd)) {
    throw py::value_error("vendor must be -1 (this CPU), 0 (other), 1 (Intel) or 2 (AMD)");
  }
  return vendor;
}

// -1 (this CPU), 0 (route as without AVX-512) or 1 (as with it), checked.
int checked_avx512(int avx512) {
  if (avx512 < -1 || avx512 > 1) throw py::value_error("avx512 must be -1 (this CPU), 0 (without) or 1 (with)");
  return avx512;
}

int checked_level(int level) {
  if (level < -1 || level > 2) throw py::value_error("level must be -1 (this CPU's), 0 (baseline), 1 (AVX2) or 2 (AVX-512)");
  return level;
}

// The router's decision for one conv shape: geometry = (n, c, h, w, k, r, s, sh, sw, ph, pw, dh,
// dw, groups); vendor: whose cores to route for (-1: the running CPU's, else a CpuVendor).
cnnfast::engine::ConvGeometry parse_geometry(const std::vector<int64_t>& geometry, const char* caller) {
  if (geometry.size() != 14) throw py::value_error(std::string(caller) + ": geometry must hold 14 ints");
  cnnfast::engine::ConvGeometry g;
  int64_t* fields[] = {&g.n, &g.c, &g.h, &g.w, &g.k, &g.r, &g.s, &g.sh, &g.sw, &g.ph, &g.pw, &g.dh, &g.dw, &g.groups};
  for (size_t i = 0; i < geometry.size(); ++i) *fields[i] = geometry[i];
  if (g.groups <= 0 || g.c % g.groups || g.k % g.groups) {
    throw py::value_error(std::string(caller) + ": channels must divide into groups");
  }
  g.ho = cnnfast::engine::conv_out_size(g.h, g.r, g.sh, g.ph, g.dh);
  g.wo = cnnfast::engine::conv_out_size(g.w, g.s, g.sw, g.pw, g.dw);
  return g;
}

const char* conv_path(const std::vector<int64_t>& geometry, bool fp32, bool channels_last, bool onednn, int vendor,
                      int avx512) {
  cnnfast::engine::RouteQuery q;
  q.geo = parse_geometry(geometry, "_conv_path");
  q.fp32 = fp32, q.channels_last = channels_last, q.onednn = onednn;
  q.engine = cnnfast::engine::engine_available();
  q.vendor = checked_vendor(vendor) < 0 ? cnnfast::cpu_vendor() : static_cast<cnnfast::CpuVendor>(vendor);
  q.avx512 = checked_avx512(avx512) < 0 ? cnnfast::cpu_has_avx512() : avx512 == 1;
  return cnnfast::engine::conv_path_name(cnnfast::engine::route_conv(q));
}

// How the engine's direct loops cut one conv into tasks (tiling.h), as a dict.
py::dict engine_tiling(const std::vector<int64_t>& geometry, int64_t threads) {
  if (threads < 1) throw py::value_error("_engine_tiling: threads must be >= 1");
  const auto t = cnnfast::engine::choose_tiling(parse_geometry(geometry, "_engine_tiling"), threads);
  py::dict d;
  d["m_tile"] = t.m_tile, d["m_tiles"] = t.m_tiles, d["blocks"] = t.blocks, d["n_chunks"] = t.n_chunks;
  d["k_chunk"] = t.k_chunk, d["row_taps"] = t.row_taps, d["column_taps"] = t.column_taps;
  d["transposed"] = t.transposed, d["phases"] = t.phases, d["row_tile"] = t.row_tile;
  return d;
}

// The fused conv1x1_depthwise kernel's rule for one pair: shape = (n, h, w, c, kh, sh).
bool conv1x1_depthwise_fuses(const std::vector<int64_t>& shape, int64_t threads) {
  if (shape.size() != 6) throw py::value_error("_conv1x1_depthwise_fuses: shape must hold 6 ints");
  if (threads < 1) throw py::value_error("_conv1x1_depthwise_fuses: threads must be >= 1");
  return cnnfast::conv1x1_depthwise_fuses(
      {shape[0], shape[1], shape[2], shape[3], shape[4], shape[5], threads});
}

int force_conv_path(int path) {
  const int before = cnnfast::engine::forced_conv_path();
  cnnfast::engine::set_forced_conv_path(path);
  return before;
}

std::tuple<bool, int64_t, int64_t, int64_t, int64_t> block_cache_stats() {
  const auto s = cnnfast::block_cache::stats();
  return {s.installed, s.max_cached_bytes, s.cached_bytes, s.hits, s.misses};
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.def("_conv_path", &conv_path, py::arg("geometry"), py::arg("fp32"), py::arg("channels_last"),
        py::arg("onednn"), py::arg("vendor") = -1, py::arg("avx512") = -1,
        "The CPU kernel conv2d_bias_act runs for this conv shape (the routing rule's decision).");
  m.def("_route_vendor", [](int vendor) { return cnnfast::set_route_vendor(checked_vendor(vendor)); },
        py::arg("vendor"),
        "Route every conv as on this vendor's cores (0 other, 1 Intel, 2 AMD; -1 the running CPU's); "
        "returns the previous setting.");
  m.def("_route_avx512", [](int avx512) { return cnnfast::set_route_avx512(checked_avx512(avx512)); },
        py::arg("avx512"),
        "Route every conv as on a CPU with (1) or without (0) AVX-512 (-1: this CPU); returns the previous "
        "setting.");
  m.def("_kernel_level", [](int level) { return cnnfast::set_kernel_level(checked_level(level)); },
        py::arg("level"),
        "Run the per-level kernel builds at most at this x86-64 level (0 baseline, 1 AVX2, 2 AVX-512; -1: "
        "this CPU's); returns the previous setting.");
  m.def("_cpu_level", [](bool own) { return static_cast<int>(own ? cnnfast::cpu_own_level() : cnnfast::cpu_level()); },
        py::arg("own") = false,
        "The x86-64 level the per-level kernel builds run at, or (own) this CPU's (0 baseline, 1 AVX2, "
        "2 AVX-512).");
  m.def("_cpu_has_avx512", [] { return cnnfast::cpu_has_avx512(); },
        "Whether the routing rule takes this CPU for one with AVX-512.");
  m.def("_cpu_vendor", [] { return cnnfast::cpu_vendor_name(cnnfast::cpu_vendor()); },
        "Whose cores the routing rule takes this CPU for: 'intel', 'amd' or 'other'.");
  m.def("_engine_tiling", &engine_tiling, py::arg("geometry"), py::arg("threads"),
        "The conv engine's tiling for this conv shape (geometry as for _conv_path) and thread count.");
  m.def("_conv1x1_depthwise_fuses", &conv1x1_depthwise_fuses, py::arg("shape"), py::arg("threads"),
        "Whether conv1x1_depthwise's CPU kernel fuses this pair (fp32 channels_last; its rule).");
  m.def("_force_conv1x1_depthwise", &cnnfast::set_forced_conv1x1_depthwise, py::arg("mode"),
        "conv1x1_depthwise's choice: -1 its rule, 0 never fuse, 1 always; returns the previous setting.");
  m.def("_force_conv_path", &force_conv_path, py::arg("path"),
        "Run every conv on path i where it can (-1: the rule); returns the previous setting.");
  m.def("_conv_engine_available", &cnnfast::engine::engine_available,
        "Whether the brgemm conv engine is built in and runs on this CPU.");
  m.def("_cache_bytes", [] {
        return std::make_tuple(cnnfast::engine::l1_cache_bytes(), cnnfast::engine::l2_cache_bytes(),
                               cnnfast::engine::l3_cache_bytes());
      },
        "(L1d, L2, L3) in bytes as the kernels read them at run time (L3: the level the cores share).");
  m.def("_prepacked_weight_count", &cnnfast::prepacked_conv2d_weight_count,
        "Live entries in the cache of prepacked conv weights (dead weights are swept first).");
  m.attr("_block_cache_default_max_cached_bytes") = cnnfast::block_cache::kDefaultMaxCachedBytes;
  m.def("_block_cache_install", &cnnfast::block_cache::install, py::arg("max_cached_bytes"),
        "Install the block cache (max_cached_bytes < 0 keeps the cap); returns whether it is installed.");
  m.def("_block_cache_uninstall", &cnnfast::block_cache::uninstall, "Put c10's CPU allocator back.");
  m.def("_block_cache_stats", &block_cache_stats, "(installed, cap, cached bytes, hits, misses).");
  m.def("_block_cache_release", &cnnfast::block_cache::release, "Return every cached block to the system.");
  cnnfast::bind_op_program(m);
}
