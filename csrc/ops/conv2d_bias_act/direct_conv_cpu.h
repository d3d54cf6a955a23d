// What cnnfast's direct channels_last fp32 conv kernels (depthwise_conv_cpu, pointwise_conv_cpu)
// share around their arithmetic: the padded bias, the output and residual, and the store.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "cnnfast/activation.h"
#include "common/vec16_cpu.h"
#include "common/vec_activation.h"

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

// The new channels_last output and dense views of the residual. The store applies every
// activation, the transcendental ones too (vec16_activation.h): a separate in-place pass over the
// output cost EfficientNet-B0 ~10% of its time at batch 1 (39 aten::silu_ calls, 1.1 of 11.2 ms).
struct DirectConvIo {
  at::Tensor out, res;
  const float* residual = nullptr;  // channels_last, out's shape; null without one
  float* data = nullptr;
  Activation store_act = Activation::None;  // the activation the store applies

  DirectConvIo(const at::Tensor& x, const std::optional<at::Tensor>& r, Activation a, at::IntArrayRef out_shape)
      : DirectConvIo(x.options(), r, a, out_shape) {}

  DirectConvIo(const at::TensorOptions& options, const std::optional<at::Tensor>& r, Activation a,
               at::IntArrayRef out_shape)
      : out(at::empty(out_shape, options.memory_format(at::MemoryFormat::ChannelsLast))), store_act(a) {
    if (r.has_value()) {
      res = r->contiguous(at::MemoryFormat::ChannelsLast);
      residual = res.const_data_ptr<float>();
    }
    data = out.mutable_data_ptr<float>();
  }

  // Into an existing output (a concat buffer's channel slice, pixels its stride(3) floats apart).
  DirectConvIo(const at::Tensor& into, const std::optional<at::Tensor>& r, Activation a) : out(into), store_act(a) {
    if (r.has_value()) {
      res = r->expand(into.sizes()).contiguous(at::MemoryFormat::ChannelsLast);
      residual = res.const_data_ptr<float>();
    }
    data = out.mutable_data_ptr<float>();
  }
};

// v = act(v) for one vector (16 lanes, or 8 in AVX2 builds: common/vec_cpu.h); the activation
// chosen at run time, once per vector.
template <class V>
inline __attribute__((always_inline)) V activate_block(V v, Activation act) {
  switch (act) {
    case Activation::ReLU: return vec::activate_vec<Activation::ReLU>(v);
    case Activation::ReLU6: return vec::activate_vec<Activation::ReLU6>(v);
    case Activation::SiLU: return vec::activate_vec<Activation::SiLU>(v);
    case Activation::Sigmoid: return vec::activate_vec<Activation::Sigmoid>(v);
    case Activation::HardSwish: return vec::activate_vec<Activation::HardSwish>(v);
    case Activation::HardSigmoid: return vec::activate_vec<Activation::HardSigmoid>(v);
    case Activation::Tanh: return vec::activate_vec<Activation::Tanh>(v);
    case Activation::None: break;
  }
  return v;
}

// acc[p][q] = bias[Lq, Lq + L) for each of a register block's P output pixels and KV vectors of L
// lanes (16, or 8 in AVX2 builds: common/vec_cpu.h).
template <int P, int KV, class V>
inline __attribute__((always_inline)) void fill_with_bias(V (&acc)[P][KV], const float* bias) {
#pragma GCC unroll 4
  for (int q = 0; q < KV; ++q) {
    const V b = vec::load<V>(bias + q * vec::kLanesOf<V>);
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) acc[p][q] = b;
  }
}

// out[0:L] = act(v + res[0:L]) (res may be null): one block of L accumulated channels (V's lanes)
// stored straight from registers. out and res may be the same memory (a conv storing over its
// residual, optimize()'s reuse_residual_buffer), so neither is __restrict__.
template <class V>
inline __attribute__((always_inline)) void store_full_block(float* out, V v, const float* res, Activation act) {
  if (res) v += vec::load<V>(res);
  vec::store(out, activate_block(v, act));
}

// out[c] = act(acc[c] + res[c]) for c < n (res may be null, or out itself): whole vectors of V
// (16 lanes unless given) from the L1-resident accumulator row, a channel tail through a
// zero-padded vector. NaN and Inf come out as eager PyTorch's (the vector activations keep its
// semantics). Inlined into each kernel's per-x86-level build.
template <class V = vec16::vf>
inline __attribute__((always_inline)) void store_row(float* out, const float* __restrict__ acc, const float* res,
                                                     int64_t n, Activation act) {
  constexpr int kL = vec::kLanesOf<V>;
  int64_t c = 0;
  for (; c + kL <= n; c += kL) {
    store_full_block(out + c, vec::load<V>(acc + c), res ? res + c : nullptr, act);
  }
  if (c < n) {
    // Lane by lane with constant indices: as a loop over n - c, GCC emits a memmove call per
    // tail, which took more time than the FMAs on ShuffleNet's 58-channel layers.
    const int64_t m = n - c;
    V v{}, r{};
#pragma GCC unroll 16
    for (int i = 0; i < kL; ++i) {
      if (i < m) v[i] = acc[c + i], r[i] = res ? res[c + i] : 0.0f;
    }
    v = activate_block(v + r, act);
#pragma GCC unroll 16
    for (int i = 0; i < kL; ++i) {
      if (i < m) out[c + i] = v[i];
    }
  }
}

// out[0:n] = act(v + res[0:n]) for one vector of accumulated channels, n of them real (res may
// be null). Lets a kernel store straight from its accumulators instead of through a row.
template <class V>
inline __attribute__((always_inline)) void store_block(float* __restrict__ out, V v, const float* __restrict__ res,
                                                       int64_t n, Activation act) {
  constexpr int kL = vec::kLanesOf<V>;
  if (n >= kL) {
    store_full_block(out, v, res, act);
    return;
  }
  alignas(64) float acc[kL];
  vec::store(acc, v);
  store_row<V>(out, acc, res, n, act);
}

}  // namespace cnnfast
