// preact_conv1x1 on the CPU, fp32 NHWC: the BN + ReLU prologue (and the 2x2 average pool, if any)
// is applied to a block of pixel rows at a time into a scratch tensor, which the 1x1 convolution
// (the conv engine where the router picks it, with the activation in its tile store; else oneDNN)
// consumes while it is still in cache, writing straight into the block's rows of the output. The activated copy of the whole
// input never exists: a dense layer reads its concatenated features once, and peak memory holds
// no full-size prologue output. (MKL's sgemm would avoid the per-block oneDNN call, but on this
// AMD CPU it runs at half oneDNN's speed: measured 1.64 vs 0.70 ms for 3136x224x128.)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>

#include "cnnfast/activation.h"
#include "common/activation_inplace.h"
#include "common/onednn_conv_cpu.h"
#include "ops/preact_conv1x1/affine_relu_cpu.h"
#include "conv_engine/conv_engine_cpu.h"
#include "ops/conv2d_bias_act/conv_path.h"
#include "cnnfast/ops.h"
#include "ops/preact_conv1x1/preact_conv1x1.h"
#include "ops/preact_conv1x1/preact_conv1x1_cpu.h"

namespace cnnfast {

namespace {

// Rows per block: the scratch (rows x C floats) stays near 4 MB (L2 + L3 resident), and a block
// is large enough that the per-call cost of the convolution (~10 us) stays small.
int64_t rows_per_block(int64_t rows, int64_t channels) {
  return std::min(rows, std::max<int64_t>(256, (int64_t{1} << 20) / std::max<int64_t>(channels, 1)));
}

// NHWC rows with one pitch: a channels_last map or a channel slice of one.
bool is_nhwc_rows(const at::Tensor& x) {
  return x.stride(1) == 1 && x.stride(3) >= x.size(1) && x.stride(2) == x.size(3) * x.stride(3) &&
         x.stride(0) == x.size(2) * x.stride(2);
}

}  // namespace

bool preact_fused_takes(const at::Tensor& x, const at::Tensor& weight, int64_t pool) {
  const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
  return x.scalar_type() == at::kFloat && preact_output_format(x, pool) == at::MemoryFormat::ChannelsLast &&
         is_nhwc_rows(x) && onednn_conv_supported(x, weight, zero, one);
}

bool preact_fused_writes(const at::Tensor& out) { return is_nhwc_rows(out); }

at::Tensor preact_conv1x1_into(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                               const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                               c10::string_view act_name, int64_t pool, at::Tensor* out_slot) {
  const Activation act = parse_activation(act_name);
  const int64_t zero[2] = {0, 0}, one[2] = {1, 1};
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2) / pool, w = x.size(3) / pool, k_out = weight.size(0);
  // Output pixels; with the pool, each reads a 2x2 patch of input pixels.
  const int64_t rows = n * h * w, dx = x.stride(3), dy = x.stride(2);
  const auto cl = x.options().memory_format(at::MemoryFormat::ChannelsLast);
  if (rows == 0) return out_slot ? *out_slot : at::empty({n, k_out, h, w}, cl);
  const at::Tensor sc = scale.contiguous(), sh = shift.contiguous();
  const float* xp = x.const_data_ptr<float>();
  const float* scp = sc.const_data_ptr<float>();
  const float* shp = sh.const_data_ptr<float>();
  const int64_t block = rows_per_block(rows, c);
  // Blocks are (1, C, 1, rows) images: a 1x1 convolution does not care how pixels are arranged.
  at::Tensor scratch = at::empty({block == rows ? n : 1, c, block == rows ? h : 1, block == rows ? w : block}, cl);
  float* sp = scratch.data_ptr<float>();
  auto prologue = [&](int64_t r0, int64_t nr) {
    at::parallel_for(0, nr, 64, [&](int64_t a, int64_t b) {
      if (pool == 1) {
        affine_relu_rows_f32(sp + a * c, xp + (r0 + a) * dx, b - a, c, dx, scp, shp);
        return;
      }
      for (int64_t r = r0 + a; r < r0 + b; ++r) {
        const int64_t ow = r % w, oh = (r / w) % h, img = r / (w * h);
        const float* p = xp + img * x.stride(0) + 2 * oh * dy + 2 * ow * dx;
        affine_relu_avg4_f32(sp + (r - r0) * c, p, dx, dy, c, scp, shp);
      }
    });
  };
  if (block == rows) {
    // One block: the scratch is the whole activated input, and the conv (routed by shape like any
    // conv2d_bias_act: the conv engine, the direct 1x1 kernel or oneDNN) writes the output with
    // the activation applied: a fresh tensor, or the caller's (a concat buffer's slice).
    prologue(0, rows);
    if (!out_slot) return conv2d_bias_act(scratch, weight, bias, one, zero, one, 1, std::nullopt, act_name);
    conv2d_bias_act_out(scratch, weight, bias, one, zero, one, 1, std::nullopt, act_name, *out_slot);
    return *out_slot;
  }
  at::Tensor out = out_slot ? *out_slot : at::empty({n, k_out, h, w}, cl);
  const int64_t pitch = out.stride(3);  // k_out, or a concat buffer's channel count
  const engine::ConvGeometry geo = engine::make_geometry(scratch, weight, one, zero, one, 1);
  const bool on_engine =
      conv_path(scratch, weight, zero, one, geo, at::MemoryFormat::ChannelsLast) == engine::ConvPath::Engine;
  for (int64_t r0 = 0; r0 < rows; r0 += block) {
    const int64_t nr = std::min(block, rows - r0);
    prologue(r0, nr);
    const at::Tensor src = nr == block ? scratch : scratch.narrow(3, 0, nr);
    at::Tensor dst = out.as_strided({1, k_out, 1, nr}, {nr * pitch, 1, nr * pitch, pitch},
                                    out.storage_offset() + r0 * pitch);
    if (on_engine) {  // stores the block's rows with bias and activation, in place
      engine::ConvGeometry g = geo;
      g.w = g.wo = nr;
      engine::conv_engine_cpu(src, weight, bias, g, std::nullopt, act, dst);
      continue;
    }
    // oneDNN adds the convolution to what the rows hold (its sum post-op): zero them first,
    // block by block, so they are in cache when the convolution reads them.
    dst.zero_();
    onednn_conv_add_(dst, src, weight, bias, one, zero, one, 1);
  }
  if (!on_engine) activation_(out, act);  // ATen's vectorised, NaN-preserving pass
  return out;
}

namespace {

at::Tensor preact_conv1x1_cpu(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& shift,
                              const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                              c10::string_view act_name, int64_t pool) {
  check_preact_conv1x1(x, scale, shift, weight, bias, pool);
  if (!preact_fused_takes(x, weight, pool)) {
    return preact_conv1x1_composite(x, scale, shift, weight, bias, act_name, pool);
  }
  return preact_conv1x1_into(x, scale, shift, weight, bias, act_name, pool, nullptr);
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("preact_conv1x1", TORCH_FN(preact_conv1x1_cpu));
}

}  // namespace cnnfast
