// Which CPU kernel runs a conv2d_bias_act: the one place the choice is made, by layer shape, with
// the measurements behind each threshold beside it (route.cpp and the kernels' own headers).
#pragma once

#include "common/cpu_vendor.h"
#include "conv_engine/geometry.h"

namespace cnnfast::engine {

enum class ConvPath {
  Gemm,       // 1x1 conv on a 1x1 map: a plain matrix product (MKL addmm)
  Depthwise,  // cnnfast's direct depthwise kernel (small maps)
  Pointwise,  // cnnfast's direct 1x1 kernel (small maps)
  Engine,     // cnnfast's conv engine on the brgemm microkernel
  OneDnn,     // oneDNN's convolution through ATen, prepacked weights
  Portable,   // ATen's convolution + cnnfast's epilogue pass (any dtype, any layout)
  Stem,       // cnnfast's direct kernel for RGB stems (<= 4 input, <= 64 output channels)
  Winograd,   // the conv engine's Winograd F(2x2, 3x3) form (3x3 stride 1, winograd.h)
  Grouped,    // cnnfast's direct kernel for narrow groups (RegNet, ResNeXt)
};

struct RouteQuery {
  ConvGeometry geo;
  bool fp32 = true;           // input and weight are float32
  bool channels_last = true;  // the output's layout (follows the input's)
  bool onednn = true;         // oneDNN can run this conv (enabled, dtype, geometry)
  bool engine = true;         // the engine is built in and this CPU runs it
  CpuVendor vendor = CpuVendor::Other;  // whose cores: a few thresholds were measured per vendor
  bool avx512 = true;  // the CPU has AVX-512 (cpu_isa.h): the direct kernels' register blocks fit
};

ConvPath choose_conv_path(const RouteQuery& q);

// Whether `path` can compute this conv at all (thresholds aside): what a forced path needs.
bool path_can_run(ConvPath path, const RouteQuery& q);

// The path tests and benchmarks force (cnnfast.config.force_conv_path): taken wherever it can
// run, else the rule's choice; kEngineOff runs the rule without the engine (what it falls back
// to). Process-wide, off (-1) unless set; atomic, so any thread may set it.
constexpr int kEngineOff = -2;
void set_forced_conv_path(int path);
int forced_conv_path();

// choose_conv_path, or the forced path where it can run.
ConvPath route_conv(const RouteQuery& q);

const char* conv_path_name(ConvPath path);

}  // namespace cnnfast::engine
