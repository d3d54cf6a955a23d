// The layer loops of small_cnn's CPU kernel (small_cnn_cpu.cpp): convs accumulating float vectors
// over output columns or output channels, with the activation and a 2x2 pool applied before the
// store, and the k x k pools. All always inlined: small_cnn_cpu.cpp's run_image_at is built once
// per x86-64 level (common/cpu_levels.h), and each build gets these at its own level.
//
// The loops take W, the lanes of the level's vector registers (16: AVX-512's zmm; 8: AVX2's ymm;
// 4: the baseline's xmm). Their register blocks hold at most 8 accumulators plus a few operands,
// which fit the 16 registers below AVX-512 too. Built on 16-lane vectors at every level, as
// before, LeNet-5 ran 3-4.5x behind ONNX Runtime on AMD EPYC Zen 3 (AVX2): GCC kept every 16-lane
// vector on the stack there (common/vec_cpu.h).
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cnnfast/activation.h"
#include "common/math.h"
#include "common/vec_activation.h"
#include "common/vec_cpu.h"
#include "ops/small_cnn/small_cnn.h"

namespace cnnfast::small_cnn_layers {

// Filters and linear weights are packed with output channels rounded up to 16 at every level (8
// and 4 lanes divide it), and the map scratch has slack for 16-lane reads.
constexpr int kLanes = 16;

// Everything run_image_at calls is inlined into it, so the whole network is compiled once per
// x86-64 level with its per-level builds (a helper called from one would be built for the
// baseline level only).
#define CNNFAST_INLINE inline __attribute__((always_inline))

// Unlike a float[W], a vf<W> stays in a register across loops (common/vec_cpu.h).
template <int W>
using vf = vec::vf<W>;

// Pool 2x2 as part of a conv's store (P: 0 none, 1 average, 2 max). The max lets a NaN win, as
// torch.max_pool2d does: b is taken where it is larger or NaN.
template <int P, class V>
CNNFAST_INLINE V pool_pair(V a, V b) {
  if constexpr (P == 2) {
    using VI = vec::int_of<V>;
    const V m = b > a ? b : a;  // keeps a NaN a
    // ... and a NaN b, chosen on the bit patterns (a float-vector `b != b` select is lowered
    // lane by lane by GCC 12, measured 2x slower for the whole conv).
    VI mb, bb;
    std::memcpy(&mb, &m, sizeof(mb));
    std::memcpy(&bb, &b, sizeof(bb));
    const VI r = (bb & 0x7fffffff) > 0x7f800000 ? bb : mb;
    V out;
    std::memcpy(&out, &r, sizeof(out));
    return out;
  } else {
    return a + b;
  }
}

// The even (O = 0) or odd (O = 1) lanes of x in its low half (the high half repeats them).
template <int O, class V>
CNNFAST_INLINE V alternate_lanes(V x) {
  if constexpr (vec::kLanesOf<V> == 16) {
    return __builtin_shufflevector(x, x, O, O + 2, O + 4, O + 6, O + 8, O + 10, O + 12, O + 14, O, O + 2, O + 4, O + 6,
                                   O + 8, O + 10, O + 12, O + 14);
  } else if constexpr (vec::kLanesOf<V> == 8) {
    return __builtin_shufflevector(x, x, O, O + 2, O + 4, O + 6, O, O + 2, O + 4, O + 6);
  } else {
    return __builtin_shufflevector(x, x, O, O + 2, O, O + 2);
  }
}

template <int W, Activation A>
CNNFAST_INLINE void activate(float* v, int64_t n) {
  if constexpr (A != Activation::None) {
    for (int64_t i = 0; i < n; i += W) {
      const int64_t m = std::min<int64_t>(W, n - i);
      vf<W> x{};
      std::memcpy(&x, v + i, m * sizeof(float));
      x = vec::activate_vec<A>(x);
      std::memcpy(v + i, &x, m * sizeof(float));
    }
  }
}

// CALL with `A` a compile-time constant equal to the runtime activation. A plain switch rather than
// dispatch_activation (cnnfast/activation.h): that is a separate function GCC does not inline
// into run_image_at's per-level builds, and its body would be built for the baseline level.
#define CNNFAST_SWITCH_ACTIVATION(act, CALL)                  \
  switch (act) {                                              \
    case Activation::ReLU: { constexpr Activation A = Activation::ReLU; CALL; break; }               \
    case Activation::ReLU6: { constexpr Activation A = Activation::ReLU6; CALL; break; }             \
    case Activation::SiLU: { constexpr Activation A = Activation::SiLU; CALL; break; }               \
    case Activation::Sigmoid: { constexpr Activation A = Activation::Sigmoid; CALL; break; }         \
    case Activation::HardSwish: { constexpr Activation A = Activation::HardSwish; CALL; break; }     \
    case Activation::HardSigmoid: { constexpr Activation A = Activation::HardSigmoid; CALL; break; } \
    case Activation::Tanh: { constexpr Activation A = Activation::Tanh; CALL; break; }               \
    default: { constexpr Activation A = Activation::None; CALL; break; }                             \
  }

template <int W, int S>
CNNFAST_INLINE vf<W> load_row(const float* p, int64_t s) {
  vf<W> v;
  if constexpr (S == 1) {
    std::memcpy(&v, p, sizeof(v));  // an unaligned vector load
  } else {
    for (int j = 0; j < W; ++j) v[j] = p[j * s];
  }
  return v;
}

constexpr int kRows = 4;  // output rows per pass

// One conv layer over one image. src: planar (C, hp, wp) planes, padding already applied, with
// slack after the last plane (reads run up to kRows - 1 rows and kLanes columns past the end);
// dst: planar (O, OH, OW), activation applied. Each pass computes V (1 or 2) vectors of W output
// columns in kRows output rows of one output channel: per input channel and kernel tap, one weight
// (broadcast) times kRows * V input row segments. Two vectors wherever two remain: an FMA has 4
// cycles of latency and two issue ports on Zen 3-5 and Sapphire Rapids, so 4 independent chains
// ran the FMA units at half rate (LeNet's C1 4.2 -> see the commit).
//
// With P (a 2x2 pool, 1 average or 2 max) the pool is applied before the store: rows 0+1 and 2+3
// vertically, then even and odd lanes, so dst is the pooled (O, OH / 2, OW / 2) map (floor mode).
template <int W, int S, Activation A, int P, int V>
CNNFAST_INLINE void conv_pass(const float* __restrict__ src, int64_t c, int64_t hp, int64_t wp,
                              const float* __restrict__ wo, float bias, int64_t kh, int64_t kw, int64_t s,
                              int64_t oc, int64_t oh0, int64_t ow0, int64_t oh_n, int64_t ow_n,
                              float* __restrict__ dst) {
  const int64_t row_step = s * wp;  // between the input rows of consecutive output rows
  vf<W> acc[V][kRows];
  for (int v = 0; v < V; ++v) {
    for (int r = 0; r < kRows; ++r) acc[v][r] = vf<W>{} + bias;
  }
  for (int64_t ic = 0; ic < c; ++ic) {
    for (int64_t dy = 0; dy < kh; ++dy) {
      const float* row = src + (ic * hp + oh0 * s + dy) * wp + ow0 * s;
      const float* wr = wo + (ic * kh + dy) * kw;
      for (int64_t dx = 0; dx < kw; ++dx) {
        const vf<W> wv = vf<W>{} + wr[dx];
        for (int v = 0; v < V; ++v) {
          for (int r = 0; r < kRows; ++r) {
            acc[v][r] += wv * load_row<W, S>(row + r * row_step + v * W * s + dx, s);
          }
        }
      }
    }
  }
  for (int v = 0; v < V; ++v) {
    const int64_t col = ow0 + v * W;
    vf<W> accs[kRows];
    for (int r = 0; r < kRows; ++r) accs[r] = vec::activate_vec<A>(acc[v][r]);
    if constexpr (P == 0) {
      const int64_t n = std::min<int64_t>(W, ow_n - col);
      for (int r = 0; r < kRows && oh0 + r < oh_n; ++r) {
        std::memcpy(dst + (oc * oh_n + oh0 + r) * ow_n + col, &accs[r], n * sizeof(float));
      }
    } else {
      const int64_t ph = oh_n / 2, pw = ow_n / 2, n = std::min<int64_t>(W / 2, pw - col / 2);
      for (int r = 0; r < kRows / 2 && oh0 / 2 + r < ph; ++r) {
        const vf<W> x = pool_pair<P>(accs[2 * r], accs[2 * r + 1]);
        const vf<W> even = alternate_lanes<0>(x), odd = alternate_lanes<1>(x);
        const vf<W> pooled = P == 2 ? pool_pair<P>(even, odd) : (even + odd) * 0.25f;
        if (n > 0) std::memcpy(dst + (oc * ph + oh0 / 2 + r) * pw + col / 2, &pooled, n * sizeof(float));
      }
    }
  }
}

template <int W, int S, Activation A, int P>
CNNFAST_INLINE void conv_layer(const float* __restrict__ src, int64_t c, int64_t hp, int64_t wp,
                               const float* __restrict__ w, const float* __restrict__ b, int64_t o, int64_t kh,
                               int64_t kw, int64_t stride, int64_t oh_n, int64_t ow_n, float* __restrict__ dst) {
  const int64_t s = S > 0 ? S : stride;
  for (int64_t oc = 0; oc < o; ++oc) {
    const float* wo = w + oc * c * kh * kw;
    const float bias = b ? b[oc] : 0.0f;
    for (int64_t oh0 = 0; oh0 < oh_n; oh0 += kRows) {
      int64_t ow0 = 0;
      for (; ow0 + W < ow_n; ow0 += 2 * W) {
        conv_pass<W, S, A, P, 2>(src, c, hp, wp, wo, bias, kh, kw, s, oc, oh0, ow0, oh_n, ow_n, dst);
      }
      if (ow0 < ow_n) conv_pass<W, S, A, P, 1>(src, c, hp, wp, wo, bias, kh, kw, s, oc, oh0, ow0, oh_n, ow_n, dst);
    }
  }
}

// A linear layer over one image: dst (O) = x (K) @ W.T with W packed transposed as (K, O rounded
// up to kLanes, zero-filled). Per input, one broadcast times NV filter vectors: NV independent
// FMA chains and no horizontal sum, where a dot product per output (common/vector_cpu.h) ran two
// chains and a 16-lane reduction per output (LeNet's 400 -> 120 layer: see the commit).
template <int W, int NV>
CNNFAST_INLINE void linear_block(const float* __restrict__ wt, int64_t opad, const float* __restrict__ x, int64_t k,
                                 int64_t o0, int64_t n, float* __restrict__ dst) {
  vf<W> acc[NV] = {};
  for (int64_t i = 0; i < k; ++i) {
    const vf<W> xv = vf<W>{} + x[i];
    const float* w = wt + i * opad + o0;
    for (int v = 0; v < NV; ++v) acc[v] += xv * vec::load<vf<W>>(w + v * W);
  }
  for (int v = 0; v < NV; ++v) {
    const int64_t m = std::min<int64_t>(W, n - v * W);
    if (m > 0) std::memcpy(dst + o0 + v * W, &acc[v], m * sizeof(float));
  }
}

// linear_block<W, NV> for the smallest NV >= nv, up to kMax (a compile-time switch over NV).
template <int W, int NV, int kMax>
CNNFAST_INLINE void linear_block_of(int64_t nv, const float* __restrict__ wt, int64_t opad, const float* __restrict__ x,
                                    int64_t k, int64_t o0, int64_t n, float* __restrict__ dst) {
  if constexpr (NV < kMax) {
    if (nv > NV) return linear_block_of<W, NV + 1, kMax>(nv, wt, opad, x, k, o0, n, dst);
  }
  linear_block<W, NV>(wt, opad, x, k, o0, n, dst);
}

template <int W>
CNNFAST_INLINE void linear_layer(const float* __restrict__ wt, const float* __restrict__ x, int64_t k, int64_t o,
                                 float* __restrict__ dst) {
  constexpr int kMaxVec = 8;
  const int64_t opad = round_up<int64_t>(o, kLanes);
  for (int64_t o0 = 0; o0 < o; o0 += kMaxVec * W) {
    const int64_t n = std::min<int64_t>(kMaxVec * W, o - o0);
    linear_block_of<W, 1, kMaxVec>((n + W - 1) / W, wt, opad, x, k, o0, n, dst);
  }
}

// k x k pool with stride k, floor mode, of planar (C, H, W) into (C, H / k, W / k), for the
// pools the conv store does not take (k != 2). A NaN tap wins the max, as in torch.max_pool2d.
template <bool MAX>
CNNFAST_INLINE void pool_planes(const float* __restrict__ src, int64_t c, int64_t h, int64_t w, int64_t k,
                                float* __restrict__ dst) {
  const int64_t ph = h / k, pw = w / k;
  const float inv = 1.0f / static_cast<float>(k * k);
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t y = 0; y < ph; ++y) {
      const float* r = src + (ch * h + y * k) * w;
      float* out = dst + (ch * ph + y) * pw;
      for (int64_t x = 0; x < pw; ++x) {
        float m = MAX ? r[x * k] : 0.0f;
        for (int64_t dy = 0; dy < k; ++dy) {
          for (int64_t dx = 0; dx < k; ++dx) {
            const float v = r[dy * w + x * k + dx];
            m = MAX ? ((v > m || v != v) ? v : m) : m + v;
          }
        }
        out[x] = MAX ? m : m * inv;
      }
    }
  }
}

CNNFAST_INLINE void pool_layer(const float* src, const SmallCnnLayer& L, float* dst) {
  if (L.pool == 2) {
    pool_planes<true>(src, L.out_c, L.out_h, L.out_w, L.pool_size, dst);
  } else {
    pool_planes<false>(src, L.out_c, L.out_h, L.out_w, L.pool_size, dst);
  }
}

// Which conv loop a layer takes: vectors over output columns (planar input) or over output
// channels (channels-last input, packed filters), whichever fills more of each vector: LeNet's
// C1 (6 channels, 28 columns) takes columns, C3 (16 channels, 10 columns) channels.
inline bool by_channels(const SmallCnnLayer& L) {
  const auto fill = [](int64_t n) { return static_cast<double>(n) / round_up<int64_t>(n, kLanes); };
  return fill(L.out_c) > fill(L.out_w);
}

inline int64_t padded_channels(int64_t o) { return round_up<int64_t>(o, kLanes); }

// The by-channels conv loop. src: channels-last padded input (hp, wp, C); wpk: the filter packed
// as (KH, KW, C, O rounded up to kLanes, zero-filled); dst: planar (O, OH, OW), activation applied.
// Each pass computes W output channels of 8 output pixels: per tap and input channel, one filter
// vector times 8 broadcast input values (8 independent FMA chains, as in conv_pass).
//
// With P (a 2x2 pool, 1 average or 2 max) the 8 pixels of a pass are two pool windows, pooled
// before the store: dst is then the pooled (O, OH / 2, OW / 2) map (floor mode).
template <int W, int S, Activation A, int P>
CNNFAST_INLINE void conv_layer_cv(const float* __restrict__ src, int64_t c, int64_t wp, const float* __restrict__ wpk,
                                  const float* __restrict__ b, int64_t o, int64_t kh, int64_t kw, int64_t stride,
                                  int64_t oh_n, int64_t ow_n, float* __restrict__ dst) {
  constexpr int kPix = 8;
  const int64_t s = S > 0 ? S : stride;
  const int64_t opad = padded_channels(o);
  // Passes: 8 output pixels each, in row-major order, or two pool windows each.
  const int64_t out_w = P ? ow_n / 2 : ow_n, npix = P ? (oh_n / 2) * out_w : oh_n * ow_n;
  const int64_t step = P ? 2 : kPix;
  for (int64_t og = 0; og < o; og += W) {
    const int64_t m = std::min<int64_t>(W, o - og);
    float bias_l[W] = {};
    if (b) std::memcpy(bias_l, b + og, m * sizeof(float));
    vf<W> bias;
    std::memcpy(&bias, bias_l, sizeof(bias));
    for (int64_t p0 = 0; p0 < npix; p0 += step) {
      const float* base[kPix];
      for (int r = 0; r < kPix; ++r) {
        int64_t y, x;
        if constexpr (P != 0) {  // pixel r % 4 of the window of pooled pixel p0 + r / 4
          const int64_t q = std::min(p0 + r / 4, npix - 1);  // a short last pass repeats a window
          y = (q / out_w) * 2 + (r % 4) / 2, x = (q % out_w) * 2 + r % 2;
        } else {
          const int64_t p = std::min(p0 + r, npix - 1);  // a short last pass repeats a pixel
          y = p / ow_n, x = p % ow_n;
        }
        base[r] = src + (y * s * wp + x * s) * c;
      }
      vf<W> acc[kPix];
      for (int r = 0; r < kPix; ++r) acc[r] = bias;
      for (int64_t dy = 0; dy < kh; ++dy) {
        for (int64_t dx = 0; dx < kw; ++dx) {
          const int64_t off = (dy * wp + dx) * c;
          const float* wt = wpk + (dy * kw + dx) * c * opad + og;
          for (int64_t ic = 0; ic < c; ++ic) {
            const vf<W> wv = vec::load<vf<W>>(wt + ic * opad);
            for (int r = 0; r < kPix; ++r) acc[r] += base[r][off + ic] * wv;
          }
        }
      }
      for (int r = 0; r < kPix; ++r) acc[r] = vec::activate_vec<A>(acc[r]);
      if constexpr (P == 0) {
        for (int r = 0; r < kPix && p0 + r < npix; ++r) {
          float v[W];
          std::memcpy(v, &acc[r], sizeof(v));
          for (int64_t j = 0; j < m; ++j) dst[(og + j) * npix + p0 + r] = v[j];
        }
      } else {
        for (int q = 0; q < 2 && p0 + q < npix; ++q) {
          const vf<W>* a = acc + 4 * q;
          const vf<W> pooled = P == 2 ? pool_pair<P>(pool_pair<P>(a[0], a[1]), pool_pair<P>(a[2], a[3]))
                                      : ((a[0] + a[1]) + (a[2] + a[3])) * 0.25f;
          float v[W];
          std::memcpy(v, &pooled, sizeof(v));
          for (int64_t j = 0; j < m; ++j) dst[(og + j) * npix + p0 + q] = v[j];
        }
      }
    }
  }
}

}  // namespace cnnfast::small_cnn_layers
