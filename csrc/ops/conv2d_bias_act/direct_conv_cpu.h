// What cnnfast's direct channels_last fp32 conv kernels (depthwise_conv_cpu, pointwise_conv_cpu)
// share around their arithmetic: the padded bias, the output and residual, and the store.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "cnnfast/activation.h"
#include "common/activation_inplace.h"
#include "common/vec16_activation.h"
#include "common/vec16_cpu.h"

namespace cnnfast {

// bias (C) copied into `padded` floats, zeros past C (none: all zeros), so kernels load whole vectors.
inline std::vector<float> padded_bias(const std::optional<at::Tensor>& bias, int64_t c, int64_t padded) {
  std::vector<float> b(padded, 0.0f);
  if (bias.has_value()) {
    const at::Tensor bc = bias->contiguous();
    std::copy(bc.const_data_ptr<float>(), bc.const_data_ptr<float>() + c, b.begin());
  }
  return b;
}

// The new channels_last output and dense views of the residual, with the activation split into
// the part the store applies (cheap ones, per element) and what finish() applies afterwards.
struct DirectConvIo {
  at::Tensor out, res;
  const float* residual = nullptr;  // channels_last, out's shape; null without one
  float* data = nullptr;
  Activation store_act = Activation::None;  // the part of act the store applies
  Activation act = Activation::None;

  DirectConvIo(const at::Tensor& x, const std::optional<at::Tensor>& r, Activation a, at::IntArrayRef out_shape)
      : out(at::empty(out_shape, x.options().memory_format(at::MemoryFormat::ChannelsLast))), act(a) {
    if (r.has_value()) {
      res = r->contiguous(at::MemoryFormat::ChannelsLast);
      residual = res.const_data_ptr<float>();
    }
    data = out.mutable_data_ptr<float>();
    store_act = is_cheap(act) ? act : Activation::None;
  }

  at::Tensor finish() {
    if (!is_cheap(act)) activation_(out, act);  // exp/tanh: ATen's vectorised in-place pass
    return out;
  }
};

// out[c] = act(acc[c] + res[c]) for c < n (res may be null): the residual goes into the L1-resident
// accumulator row first, then one pass applies a cheap activation (NaN kept, as in eager PyTorch).
// Inlined into each kernel's per-x86-level clone.
inline __attribute__((always_inline)) void store_row(float* __restrict__ out, float* __restrict__ acc,
                                                     const float* __restrict__ res, int64_t n, Activation act) {
  if (res) {
    for (int64_t c = 0; c < n; ++c) acc[c] += res[c];
  }
  switch (act) {
    case Activation::ReLU: for (int64_t c = 0; c < n; ++c) out[c] = activate<Activation::ReLU>(acc[c]); break;
    case Activation::ReLU6: for (int64_t c = 0; c < n; ++c) out[c] = activate<Activation::ReLU6>(acc[c]); break;
    case Activation::HardSwish: for (int64_t c = 0; c < n; ++c) out[c] = activate<Activation::HardSwish>(acc[c]); break;
    case Activation::HardSigmoid: for (int64_t c = 0; c < n; ++c) out[c] = activate<Activation::HardSigmoid>(acc[c]); break;
    default: for (int64_t c = 0; c < n; ++c) out[c] = acc[c];
  }
}

// out[0:n] = act(v + res[0:n]) for one block of 16 accumulated channels, n of them real (res may
// be null): a whole block in registers, with the same operations in the same order as store_row
// (so the same results, NaN kept); a channel tail (n < 16) through store_row. Lets a kernel store
// straight from its accumulators instead of through an accumulator row.
inline __attribute__((always_inline)) void store_block(float* __restrict__ out, vec16::vf v,
                                                       const float* __restrict__ res, int64_t n, Activation act) {
  using vec16::vf;
  if (n < vec16::kLanes) {
    alignas(64) float tail[vec16::kLanes];
    vec16::store(tail, v);
    store_row(out, tail, res, n, act);
    return;
  }
  if (res) v += vec16::load(res);
  switch (act) {  // the cheap activations (DirectConvIo::store_act); finish() applies the others
    case Activation::ReLU: v = vec16::activate_vec<Activation::ReLU>(v); break;
    case Activation::ReLU6: v = vec16::activate_vec<Activation::ReLU6>(v); break;
    case Activation::HardSwish: v = vec16::activate_vec<Activation::HardSwish>(v); break;
    case Activation::HardSigmoid: v = vec16::activate_vec<Activation::HardSigmoid>(v); break;
    default: break;
  }
  vec16::store(out, v);
}

}  // namespace cnnfast
