// conv_engine_cpu (see conv_engine_cpu.h): checks, the packed filter (cached with the weight) and
// the padded bias, the destination's strides, then one of the loops the tiling chooses
// (gather_loop.cpp for any geometry, row_taps_loop.cpp for wide rows and for column and row
// filters, stride_phases_loop.cpp for strided filters) or the Winograd loop (winograd_loop.cpp,
// 3x3 stride 1). Whether the engine runs at all is decided by the torch it is built against
// (CPUBLAS_BRGEMM_F32F32F32, ATen/native/CPUBlas.h) and the CPU it runs on.
#include "conv_engine/conv_engine_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/native/CPUBlas.h>  // the microkernel and the macros saying which are built

#include <algorithm>
#include <vector>

#include "common/channel_sums.h"
#include "conv_engine/engine_call.h"
#include "conv_engine/packed_filter.h"
#include "conv_engine/winograd.h"

namespace cnnfast::engine {

bool engine_available() {
#if defined(CPUBLAS_BRGEMM_F32F32F32) && defined(__x86_64__)
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
#else
  return false;
#endif
}

ConvGeometry make_geometry(const at::Tensor& x, const at::Tensor& weight, at::IntArrayRef stride,
                           at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  ConvGeometry g;
  g.n = x.size(0), g.c = x.size(1), g.h = x.size(2), g.w = x.size(3);
  g.groups = groups, g.k = weight.size(0), g.r = weight.size(2), g.s = weight.size(3);
  g.sh = stride[0], g.sw = stride[1], g.ph = padding[0], g.pw = padding[1], g.dh = dilation[0], g.dw = dilation[1];
  g.ho = conv_out_size(g.h, g.r, g.sh, g.ph, g.dh);
  g.wo = conv_out_size(g.w, g.s, g.sw, g.pw, g.dw);
  return g;
}

void conv_engine_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                     const ConvGeometry& geo, const std::optional<at::Tensor>& residual, Activation act,
                     at::Tensor& out, bool winograd, ChannelSums* sums) {
#if defined(CPUBLAS_BRGEMM_F32F32F32)
  TORCH_INTERNAL_ASSERT(x.is_contiguous(at::MemoryFormat::ChannelsLast) && x.scalar_type() == at::kFloat);
  TORCH_INTERNAL_ASSERT(out.stride(1) == 1 || out.size(1) == 1);
  TORCH_INTERNAL_ASSERT(!winograd || winograd_can_run(geo));
  at::Tensor res;
  // A residual that only broadcasts is expanded to the output's shape, then made dense NHWC.
  if (residual.has_value()) res = residual->expand(out.sizes()).contiguous(at::MemoryFormat::ChannelsLast);
  // The Winograd form may have to recompute the output on the direct loops (winograd.h): not
  // where the residual it reads is the output it writes.
  if (winograd && res.defined() && at::get_overlap_status(out, res) != at::MemOverlapStatus::No) winograd = false;
  at::Tensor filter = winograd ? winograd_filter(weight) : at::Tensor();
  if (!filter.defined()) {  // the direct loops (a non-finite weight sends Winograd there too)
    winograd = false;
    filter = packed_filter(weight, geo.groups);
  }
  const int64_t kg = geo.kg(), kp = padded_width(kg);
  // Bias per group, padded to whole vectors (zeros without a bias): read in whole vectors.
  // The calling thread's, reused; workers reach it through `call` (each thread's thread_local
  // would be its own, empty one).
  thread_local std::vector<float> padded_bias;
  padded_bias.assign(geo.groups * kp, 0.0f);
  if (bias.has_value()) {
    const at::Tensor b = bias->contiguous();
    for (int64_t g = 0; g < geo.groups; ++g) {
      std::copy(b.const_data_ptr<float>() + g * kg, b.const_data_ptr<float>() + (g + 1) * kg, padded_bias.begin() + g * kp);
    }
  }
  // The Winograd loop plans its own tasks; the direct loops' tiling is chosen only if they run.
  EngineCall call{geo, winograd ? Tiling{} : choose_tiling(geo, at::get_num_threads()), x.const_data_ptr<float>(),
                  filter.const_data_ptr<float>(), padded_bias.data(),
                  TileDest{out.mutable_data_ptr<float>(), out.stride(0), out.stride(2), out.stride(3),
                           res.defined() ? res.const_data_ptr<float>() : nullptr, res.defined() ? res.stride(0) : 0,
                           res.defined() ? res.stride(2) : 0, res.defined() ? res.stride(3) : 0, sums},
                  act};
  if (winograd) {
    if (run_winograd(call)) return;
    if (sums) sums->clear();  // some tiles were stored (and summed) before the NaN was met
    filter = packed_filter(weight, geo.groups);  // a NaN or Inf in x: the direct loops, from scratch
    call.filter = filter.const_data_ptr<float>();
    call.tiling = choose_tiling(geo, at::get_num_threads());
  }
  if (call.tiling.transposed) {
    run_row_filter(call);
  } else if (call.tiling.phases) {
    run_stride_phases(call);
  } else if (call.tiling.column_taps) {
    run_column_taps(call);
  } else if (call.tiling.row_taps) {
    run_row_taps(call);
  } else {
    run_gather_tiles(call);
  }
#else
  TORCH_CHECK(false, "cnnfast: this torch has no fp32 brgemm microkernel (CPUBLAS_BRGEMM_F32F32F32)");
#endif
}

}  // namespace cnnfast::engine
