// choose_conv_path (see route.h). The direct kernels' own thresholds live beside them
// (depthwise_conv_cpu.cpp, pointwise_conv_cpu.cpp); the engine's are here.
#include "conv_engine/route.h"

#include <atomic>

#include "conv_engine/tiling.h"
#include "conv_engine/winograd.h"
#include "ops/conv2d_bias_act/depthwise_conv_cpu.h"
#include "ops/conv2d_bias_act/grouped_conv_cpu.h"
#include "ops/conv2d_bias_act/pointwise_conv_cpu.h"
#include "ops/conv2d_bias_act/stem_conv_cpu.h"

namespace cnnfast::engine {

namespace {

// A 1x1 conv on a 1x1 map (the SE excitation FCs, heads after global pooling) is a plain GEMM.
// On such a map NCHW and NHWC are one layout, so the engine takes it in either.
bool is_gemm(const ConvGeometry& g) {
  return g.groups == 1 && g.h == 1 && g.w == 1 && g.r == 1 && g.s == 1 && g.ph == 0 && g.pw == 0;
}

// Where the engine beats the alternatives, measured per layer over every distinct conv of the
// lecture models at batch 1 and 8, 2 threads, AMD EPYC Zen 4, 2026-12-03
// (benchmarks/conv_engine_layers.py -> benchmarks/results/cpu_conv_engine.md); engine / oneDNN:
// - 1x1 maps (92 layer-batches): median 0.22x of oneDNN's time and 0.67x of MKL's addmm, which
//   took these before (oneDNN's and ATen's fixed cost per call is all there is to them).
// - other 1x1 convs the direct 1x1 kernel does not take (105): median 0.93x, slower on 17 by
//   at most 1.22x (no gather: the microkernel reads the input rows in place).
// - 3x3/5x5/1x7... up to kKxKMaxMacs (12): median 0.83x, 0.58x at best (oneDNN's fixed cost per
//   call dominates). From 16M to 40M it was even (16: median 1.02x, 0.72-1.15x), and above (106)
//   oneDNN's brgconv, which batch-reduces over taps without copying them, was faster on 87:
//   median 1.05x, up to 1.5x (the engine copies each tile's taps, or makes one short call per
//   row and tap).
// - grouped (28, ResNeXt/RegNet): median 1.84x; Kg of 8-32 channels leaves the microkernel's
//   64-wide N mostly empty. Stems with < 8 input channels per group (18): median 1.17x. Both stay.
constexpr int64_t kKxKMaxMacs = 16 * 1000 * 1000;
constexpr int64_t kMinGroupChannels = 8;
// On Intel cores the engine kept its lead further: Inception-v3's KxK layers at batch 1, each alone
// against oneDNN, alternated call by call (Intel Xeon, 2 threads, 2026-12-06), warm / with the
// weight cold: 1x3 and 3x1 384 -> 384 on 8x8 (28M multiply-adds) 0.87-0.90x / 0.83-0.84x, the
// stride-2 3x3s of 21-24M 0.86x / 0.83-0.96x, 1x7 and 7x1 128 -> 128 on 17x17 (33M) 0.88-0.90x /
// 0.89-0.94x; even from 35M (192 -> 320 stride 2: 1.03x / 1.01x; 160 -> 160 1x7, 52M: 0.98x;
// GoogLeNet's 32 -> 128 5x5 on 7x7 at batch 8, 40M: 1.03x) and behind from 60M (32 -> 96 5x5
// 1.08x, 192 -> 192 1x7 1.06-1.08x, 48 -> 64 5x5 1.10-1.13x). The whole model, alternated in one
// process: 0.985x with the limit at 30M, 0.989x at 40M, 0.994x at 60M, 1.002x at 80M.
constexpr int64_t kIntelKxKMaxMacs = 34 * 1000 * 1000;
// Column filters (R x 1 at stride 1 without column padding) run as one call per tap over runs of
// whole rows (run_column_taps), and row filters (1 x S) the same way on the transposed map
// (run_row_filter), where the loops above made one call per row and tap or gathered the taps.
// Alone against oneDNN, alternated call by call (Intel Xeon, 2 threads, 2026-12-06):
// Inception-v3's 7x1 layers at batch 1 (33-75M multiply-adds) 0.74-0.88x of its time, its 1x7
// layers 0.74-0.90x (the transposed copy included), at batch 2 0.85-0.93x, at batch 4 (208-300M)
// 1.22-1.29x, at batch 8 0.97-1.13x; the 3x1 and 1x3 384 -> 384 on 8x8 0.80-0.81x at batch 1 and
// 0.84-0.90x at batch 2-8. The whole model at batch 1, alternated in one process: 0.983x with the
// column filters, 0.967x with both. AMD's cores were not measured: they keep the KxK limit.
constexpr int64_t kIntelColumnMaxMacs = 160 * 1000 * 1000;
constexpr int64_t kIntelStridedMaxMacs = 120 * 1000 * 1000;
// Without AVX-512, 5x5 filters take the engine at any size: 0.80-0.90x of oneDNN's AVX2 time on
// every such conv of the lecture models (AlexNet's 64 -> 192 on 27x27 and Inception-v3's 48 -> 64
// on 35x35, 94M-1.8G multiply-adds, batch 1 and 8) on an AMD EPYC Zen 3 (2026-12-07,
// results/cpu_conv_layers_avx2.md), and AlexNet's 0.87x at batch 8 (1.06x at batch 1) on a Zen 4
// run as an AVX2 machine, where oneDNN's AVX2 kernel took 1.18-1.26x ONNX Runtime's
// (results/cpu_layer_profile_alexnet_as_avx2.md). 25 taps per call give the microkernel long
// batch-reduce chains.
constexpr int64_t kAvx2EngineAnySizeTaps = 25;

bool engine_pays(const RouteQuery& q) {
  const ConvGeometry& g = q.geo;
  if (g.groups != 1 || g.cg() < kMinGroupChannels) return false;
  if (g.r == 1 && g.s == 1) return true;
  if (q.vendor == CpuVendor::Intel && (column_taps_apply(g) || row_filter_transposes(g)) &&
      g.macs() <= kIntelColumnMaxMacs) {
    return true;
  }
  if (q.vendor == CpuVendor::Intel && (g.sh > 1 || g.sw > 1) && g.macs() <= kIntelStridedMaxMacs) return true;
  if (!q.avx512 && g.taps() == kAvx2EngineAnySizeTaps && g.r == g.s) return true;
  return g.macs() <= (q.vendor == CpuVendor::Intel ? kIntelKxKMaxMacs : kKxKMaxMacs);
}

// The Winograd form (winograd.h) against the best of the engine's direct loops and oneDNN over
// the 3x3 stride-1 convs of the lecture models it can run (42 layers, batch 1 and 8, 2 threads,
// AMD EPYC Zen 4, 2026-12-04; benchmarks/results/cpu_conv_winograd.md): faster on 81 of 84,
// median 0.60x of the best other path, 0.49x at best (VGG's 128->256 on 56x56 at batch 8);
// 0.77-0.90x on 7x7 maps, where 2x2 tiles overhang the map (8x8 computed for 7x7) and at batch 1
// the transformed filter (16/9 of the weight) streams from memory. The engine stays faster under
// 2M multiply-adds (16->48 on 14x14, 32->128 and 128->32 on 7x7 at batch 1: 0.97-1.11x) and on
// narrow inputs over maps under 10x10 (32->128 on 7x7 at batch 8: 1.10x; 48->128: 0.94-0.98x).
constexpr int64_t kWinogradMinMacs = 2 * 1000 * 1000;
constexpr int64_t kWinogradNarrowChannels = 64, kWinogradSmallMap = 100;

// Without AVX-512 (cpu_isa.h), against oneDNN's AVX2 kernels: every distinct conv of the lecture
// models at batch 1 and 8, 2 threads, AMD EPYC Zen 3 (AVX2, no AVX-512), 2026-12-07,
// `benchmarks/conv_engine_layers.py --paths engine onednn depthwise grouped winograd gemm`
// (benchmarks/results/cpu_conv_layers_avx2.md):
// - the direct kernels' AVX2 clones run their 16-float vectors through the stack (GCC keeps a
//   vector wider than the level's registers in memory: common/vec_cpu.h). The 1x1 kernel took
//   20-30x oneDNN's time (ResNeXt-50's 1x1s on 28x28), the stem kernel 2-16x, the grouped kernel
//   2.3-20x (median 6.3x): left out. The depthwise kernel (a median 1.74x that way) now has an
//   AVX2 build on 8-lane vectors (common/cpu_levels.h), which takes the convs up to 1.5M
//   multiply-adds (depthwise_direct_supported). So has the 1x1 kernel (6 pixels x 16 channels
//   per register block), but alone it only drew level with the engine's AVX2 microkernel: a median
//   0.98-1.14x its time over six models' 1x1 layers at batch 1 and 8 (AMD EPYC Zen 4 run as an
//   AVX2 machine, 2026-12-07, results/cpu_conv1x1_depthwise_avx2.md), so a lone 1x1 conv keeps the
//   engine; the AVX2 build runs inside the fused 1x1 -> depthwise pairs (fuse_rule.cpp).
//   The grouped kernel's loop for groups of 2-8 channels has an AVX2 build too (two 8-lane halves
//   of each 16-lane vector over 7 pixels): 0.39-0.82x oneDNN's AVX2 time on every narrow-group
//   layer of RegNetY and ResNeXt-50 (grouped_direct_supported_avx2); wider groups stay with oneDNN.
// - the engine (oneDNN's AVX2 brgemm): 1x1 convs a median 0.94x (ahead on 260 of 366), 1x1 maps
//   0.25x; KxK convs 0.99x: its rule stands.
// - Winograd: a median 0.81x over 84 layer-batches, but 1.35-1.50x on 512 -> 512 (VGG-16 on 28x28
//   and 14x14; ResNet-18's on 7x7 1.69x at batch 8; the transformed filter, 16 MB, streams from
//   memory) and 1.2-1.7x with 32 output channels (DenseNet's growth layers, Inception-v3's 32 -> 32
//   on 147x147): those take the engine or oneDNN.
// In total the rule comes to 1.02x of the per-layer best on that machine; oneDNN on every layer, 1.13x.
constexpr int64_t kAvx2WinogradMinCout = 48;
constexpr int64_t kAvx2WinogradMaxChannelPairs = 512 * 512;  // c * k, exclusive

bool winograd_pays(const RouteQuery& q) {
  const ConvGeometry& g = q.geo;
  if (!winograd_can_run(g) || g.macs() < kWinogradMinMacs) return false;
  if (!q.avx512 && (g.k < kAvx2WinogradMinCout || g.c * g.k >= kAvx2WinogradMaxChannelPairs)) return false;
  return g.c >= kWinogradNarrowChannels || g.pixels() >= kWinogradSmallMap;
}

// The direct 1x1 kernel against the engine on Intel cores (every 1x1 stride-1 layer of the lecture
// models both can run, batch 1 and 8, 2 threads, Intel Xeon with AVX-512 and AMX, L1d 48 KB, L2
// 2 MB, 2026-12-05; benchmarks/results/cpu_conv_engine_intel.md). There the rule measured on AMD's
// cores (pointwise_direct_supported: the direct kernel from 256 pixels, 0.90x of the engine's time
// on Zen 4), which other vendors keep, took 8.7% more time in total
// than the faster of the two on each layer: past 128 input channels the engine won nearly
// everywhere, 0.85-0.90x typically, 0.45x at best (EfficientNet-B0's 1152->192 on 7x7 at batch 8),
// over ResNet/ResNeXt-50's bottlenecks, DenseNet's and Inception's 1x1 layers. The direct kernel
// streams a 64-channel weight panel of Cin x 256 bytes per block of 4 pixels; past 128 channels the
// panel outgrows two thirds of the 48 KB L1. It kept its lead (1.1-1.4x) with 16-128 input channels
// over large maps. In whole models it also kept square and expanding layers: sending every layer
// past 128 channels to the engine made RegNetY-400MF b1 and EfficientNet-B0 1.03-1.05x slower
// (their 208->208 and 320->1280 layers). So the engine gets only reductions (Cin >= 2 Cout) and
// layers from 100M multiply-adds, none with fewer than 32 output channels (EfficientNet-B0's
// 144->24: 1.11x). This leaves 0.4% over the per-layer best.
constexpr int64_t kIntelPointwiseMaxChannels = 128;
constexpr int64_t kIntelEngineMinCout = 32;
constexpr int64_t kIntelEngineAnyShapeMacs = 100 * 1000 * 1000;

bool engine_beats_pointwise(const RouteQuery& q) {
  const ConvGeometry& g = q.geo;
  if (!q.engine || q.vendor != CpuVendor::Intel) return false;
  if (g.c <= kIntelPointwiseMaxChannels || g.k < kIntelEngineMinCout) return false;
  return g.c >= 2 * g.k || g.macs() >= kIntelEngineAnyShapeMacs;
}

bool pointwise_pays(const RouteQuery& q) { return pointwise_direct_supported(q.geo) && !engine_beats_pointwise(q); }

}  // namespace

ConvPath choose_conv_path(const RouteQuery& q) {
  const ConvGeometry& g = q.geo;
  if (is_gemm(g)) return q.fp32 && q.engine ? ConvPath::Engine : ConvPath::Gemm;
  const bool direct = q.fp32 && q.channels_last;
  // cnnfast's own register-blocked kernels, only with AVX-512 (see winograd_pays' notes), except
  // the depthwise and stem kernels, built per level on the level's own vector width.
  const bool blocked = direct && q.avx512;
  if (direct && depthwise_direct_supported(g, q.avx512)) return ConvPath::Depthwise;
  if (blocked && pointwise_pays(q)) return ConvPath::Pointwise;
  if (direct && stem_direct_supported(g, q.avx512)) return ConvPath::Stem;
  if (blocked && grouped_direct_supported(g)) return ConvPath::Grouped;
  if (direct && !q.avx512 && grouped_direct_supported_avx2(g)) return ConvPath::Grouped;
  if (direct && q.engine && winograd_pays(q)) return ConvPath::Winograd;
  if (direct && q.engine && engine_pays(q)) return ConvPath::Engine;
  if (q.onednn) return ConvPath::OneDnn;
  return ConvPath::Portable;
}

bool path_can_run(ConvPath path, const RouteQuery& q) {
  const ConvGeometry& g = q.geo;
  const bool direct = q.fp32 && q.channels_last && g.n > 0;
  switch (path) {
    case ConvPath::Gemm: return is_gemm(g);
    case ConvPath::Depthwise: return direct && g.groups == g.c && g.k == g.groups;
    case ConvPath::Pointwise: return direct && g.groups == 1 && g.reads_input_rows();
    case ConvPath::Engine: return (direct || (q.fp32 && is_gemm(g) && g.n > 0)) && q.engine;
    case ConvPath::OneDnn: return q.onednn;
    case ConvPath::Portable: return true;
    case ConvPath::Stem: return direct && stem_direct_can_run(g);
    case ConvPath::Winograd: return direct && q.engine && winograd_can_run(g);
    case ConvPath::Grouped: return direct && grouped_direct_can_run(g);
  }
  return false;
}

namespace {
std::atomic<int> forced{-1};
}

void set_forced_conv_path(int path) { forced.store(path, std::memory_order_relaxed); }

int forced_conv_path() { return forced.load(std::memory_order_relaxed); }

ConvPath route_conv(const RouteQuery& q) {
  const int f = forced_conv_path();
  if (f == kEngineOff) {  // the rule as it stands without the engine: its fallbacks
    RouteQuery without = q;
    without.engine = false;
    return choose_conv_path(without);
  }
  if (f >= 0 && path_can_run(static_cast<ConvPath>(f), q)) return static_cast<ConvPath>(f);
  return choose_conv_path(q);
}

const char* conv_path_name(ConvPath path) {
  switch (path) {
    case ConvPath::Gemm: return "gemm";
    case ConvPath::Depthwise: return "depthwise";
    case ConvPath::Pointwise: return "pointwise";
    case ConvPath::Engine: return "engine";
    case ConvPath::OneDnn: return "onednn";
    case ConvPath::Portable: return "portable";
    case ConvPath::Stem: return "stem";
    case ConvPath::Winograd: return "winograd";
    case ConvPath::Grouped: return "grouped";
  }
  return "?";
}

}  // namespace cnnfast::engine
