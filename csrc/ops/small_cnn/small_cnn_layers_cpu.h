// The layer loops of small_cnn's CPU kernel (small_cnn_cpu.cpp): convs accumulating 16-float vectors
// over output columns or output channels, with the activation and a 2x2 pool applied before the
// store, and the k x k pools. All always inlined: small_cnn_cpu.cpp's run_image is built once per
// x86-64 level, and each of its clones must get these at its own vector width.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cnnfast/activation.h"
#include "common/math.h"
#include "common/vec16_activation.h"
#include "common/vec16_cpu.h"
#include "ops/small_cnn/small_cnn.h"

namespace cnnfast::small_cnn_layers {

constexpr int kLanes = 16;  // one AVX-512 register of floats

// Everything run_image calls is inlined into it, so the whole network is compiled once per
// x86-64 level with run_image's clones (a helper called from a clone would be built for the
// baseline level only).
#define CNNFAST_INLINE inline __attribute__((always_inline))

// Unlike a float[16], a vf stays in a register across loops (common/vec16_cpu.h).
using vec16::vf;
typedef int32_t vi __attribute__((vector_size(kLanes * sizeof(int32_t))));

// Pool 2x2 as part of a conv's store (P: 0 none, 1 average, 2 max). The max lets a NaN win, as
// torch.max_pool2d does: b is taken where it is larger or NaN.
template <int P>
CNNFAST_INLINE vf pool_pair(vf a, vf b) {
  if constexpr (P == 2) {
    const vf m = b > a ? b : a;  // keeps a NaN a
    // ... and a NaN b, chosen on the bit patterns (a float-vector `b != b` select is lowered
    // lane by lane by GCC 12, measured 2x slower for the whole conv).
    vi mb, bb;
    std::memcpy(&mb, &m, sizeof(mb));
    std::memcpy(&bb, &b, sizeof(bb));
    const vi r = (bb & 0x7fffffff) > 0x7f800000 ? bb : mb;
    vf out;
    std::memcpy(&out, &r, sizeof(out));
    return out;
  } else {
    return a + b;
  }
}

template <Activation A>
CNNFAST_INLINE void activate(float* v, int64_t n) {
  if constexpr (A != Activation::None) {
    for (int64_t i = 0; i < n; i += kLanes) {
      const int64_t m = std::min<int64_t>(kLanes, n - i);
      vf x{};
      std::memcpy(&x, v + i, m * sizeof(float));
      x = vec16::activate_vec<A>(x);
      std::memcpy(v + i, &x, m * sizeof(float));
    }
  }
}

// CALL with `A` a compile-time constant equal to the runtime activation. A plain switch rather than
// dispatch_activation (cnnfast/activation.h): that is a separate function GCC does not inline
// into run_image's clones, and its body would be built for the baseline level.
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

template <int S>
CNNFAST_INLINE vf load_row(const float* p, int64_t s) {
  vf v;
  if constexpr (S == 1) {
    std::memcpy(&v, p, sizeof(v));  // an unaligned vector load
  } else {
    for (int j = 0; j < kLanes; ++j) v[j] = p[j * s];
  }
  return v;
}

constexpr int kRows = 4;  // output rows per pass

// One conv layer over one image. src: planar (C, hp, wp) planes, padding already applied, with
// slack after the last plane (reads run up to kRows - 1 rows and kLanes columns past the end);
// dst: planar (O, OH, OW), activation applied. Each pass computes V (1 or 2) vectors of kLanes
// output columns in kRows output rows of one output channel: per input channel and kernel tap, one
// weight (broadcast) times kRows * V input row segments. Two vectors wherever two remain: a
// 512-bit FMA has 4 cycles of latency and two issue ports on Zen 5 and Sapphire Rapids, so 4
// independent chains ran the FMA units at half rate (LeNet's C1 4.2 -> see the commit).
//
// With P (a 2x2 pool, 1 average or 2 max) the pool is applied before the store: rows 0+1 and 2+3
// vertically, then even and odd lanes, so dst is the pooled (O, OH / 2, OW / 2) map (floor mode).
template <int S, Activation A, int P, int V>
CNNFAST_INLINE void conv_pass(const float* __restrict__ src, int64_t c, int64_t hp, int64_t wp,
                              const float* __restrict__ wo, float bias, int64_t kh, int64_t kw, int64_t s,
                              int64_t oc, int64_t oh0, int64_t ow0, int64_t oh_n, int64_t ow_n,
                              float* __restrict__ dst) {
  const int64_t row_step = s * wp;  // between the input rows of consecutive output rows
  vf acc[V][kRows];
  for (int v = 0; v < V; ++v) {
    for (int r = 0; r < kRows; ++r) acc[v][r] = vf{} + bias;
  }
  for (int64_t ic = 0; ic < c; ++ic) {
    for (int64_t dy = 0; dy < kh; ++dy) {
      const float* row = src + (ic * hp + oh0 * s + dy) * wp + ow0 * s;
      const float* wr = wo + (ic * kh + dy) * kw;
      for (int64_t dx = 0; dx < kw; ++dx) {
        const vf wv = vf{} + wr[dx];
        for (int v = 0; v < V; ++v) {
          for (int r = 0; r < kRows; ++r) {
            acc[v][r] += wv * load_row<S>(row + r * row_step + v * kLanes * s + dx, s);
          }
        }
      }
    }
  }
  for (int v = 0; v < V; ++v) {
    const int64_t col = ow0 + v * kLanes;
    vf accs[kRows];
    for (int r = 0; r < kRows; ++r) accs[r] = vec16::activate_vec<A>(acc[v][r]);
    if constexpr (P == 0) {
      const int64_t n = std::min<int64_t>(kLanes, ow_n - col);
      for (int r = 0; r < kRows && oh0 + r < oh_n; ++r) {
        std::memcpy(dst + (oc * oh_n + oh0 + r) * ow_n + col, &accs[r], n * sizeof(float));
      }
    } else {
      const int64_t ph = oh_n / 2, pw = ow_n / 2, n = std::min<int64_t>(kLanes / 2, pw - col / 2);
      for (int r = 0; r < kRows / 2 && oh0 / 2 + r < ph; ++r) {
        const vf x = pool_pair<P>(accs[2 * r], accs[2 * r + 1]);
        const vf even = __builtin_shufflevector(x, x, 0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
        const vf odd = __builtin_shufflevector(x, x, 1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);
        const vf pooled = P == 2 ? pool_pair<P>(even, odd) : (even + odd) * 0.25f;
        if (n > 0) std::memcpy(dst + (oc * ph + oh0 / 2 + r) * pw + col / 2, &pooled, n * sizeof(float));
      }
    }
  }
}

template <int S, Activation A, int P>
CNNFAST_INLINE void conv_layer(const float* __restrict__ src, int64_t c, int64_t hp, int64_t wp,
                               const float* __restrict__ w, const float* __restrict__ b, int64_t o, int64_t kh,
                               int64_t kw, int64_t stride, int64_t oh_n, int64_t ow_n, float* __restrict__ dst) {
  const int64_t s = S > 0 ? S : stride;
  for (int64_t oc = 0; oc < o; ++oc) {
    const float* wo = w + oc * c * kh * kw;
    const float bias = b ? b[oc] : 0.0f;
    for (int64_t oh0 = 0; oh0 < oh_n; oh0 += kRows) {
      int64_t ow0 = 0;
      for (; ow0 + kLanes < ow_n; ow0 += 2 * kLanes) {
        conv_pass<S, A, P, 2>(src, c, hp, wp, wo, bias, kh, kw, s, oc, oh0, ow0, oh_n, ow_n, dst);
      }
      if (ow0 < ow_n) conv_pass<S, A, P, 1>(src, c, hp, wp, wo, bias, kh, kw, s, oc, oh0, ow0, oh_n, ow_n, dst);
    }
  }
}

// A linear layer over one image: dst (O) = x (K) @ W.T with W packed transposed as (K, O rounded
// up to kLanes, zero-filled). Per input, one broadcast times NV filter vectors: NV independent
// FMA chains and no horizontal sum, where a dot product per output (common/vector_cpu.h) ran two
// chains and a 16-lane reduction per output (LeNet's 400 -> 120 layer: see the commit).
template <int NV>
CNNFAST_INLINE void linear_block(const float* __restrict__ wt, int64_t opad, const float* __restrict__ x, int64_t k,
                                 int64_t o0, int64_t n, float* __restrict__ dst) {
  vf acc[NV] = {};
  for (int64_t i = 0; i < k; ++i) {
    const vf xv = vf{} + x[i];
    const float* w = wt + i * opad + o0;
    for (int v = 0; v < NV; ++v) acc[v] += xv * vec16::load(w + v * kLanes);
  }
  for (int v = 0; v < NV; ++v) {
    const int64_t m = std::min<int64_t>(kLanes, n - v * kLanes);
    if (m > 0) std::memcpy(dst + o0 + v * kLanes, &acc[v], m * sizeof(float));
  }
}

CNNFAST_INLINE void linear_layer(const float* __restrict__ wt, const float* __restrict__ x, int64_t k, int64_t o,
                                 float* __restrict__ dst) {
  constexpr int kMaxVec = 8;
  const int64_t opad = round_up<int64_t>(o, kLanes);
  for (int64_t o0 = 0; o0 < o; o0 += kMaxVec * kLanes) {
    const int64_t n = std::min<int64_t>(kMaxVec * kLanes, o - o0);
    switch ((n + kLanes - 1) / kLanes) {
      case 1: linear_block<1>(wt, opad, x, k, o0, n, dst); break;
      case 2: linear_block<2>(wt, opad, x, k, o0, n, dst); break;
      case 3: linear_block<3>(wt, opad, x, k, o0, n, dst); break;
      case 4: linear_block<4>(wt, opad, x, k, o0, n, dst); break;
      case 5: linear_block<5>(wt, opad, x, k, o0, n, dst); break;
      case 6: linear_block<6>(wt, opad, x, k, o0, n, dst); break;
      case 7: linear_block<7>(wt, opad, x, k, o0, n, dst); break;
      default: linear_block<8>(wt, opad, x, k, o0, n, dst); break;
    }
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
// Each pass computes kLanes output channels of 8 output pixels: per tap and input channel, one
// filter vector times 8 broadcast input values (8 independent FMA chains, as in conv_pass).
//
// With P (a 2x2 pool, 1 average or 2 max) the 8 pixels of a pass are two pool windows, pooled
// before the store: dst is then the pooled (O, OH / 2, OW / 2) map (floor mode).
template <int S, Activation A, int P>
CNNFAST_INLINE void conv_layer_cv(const float* __restrict__ src, int64_t c, int64_t wp, const float* __restrict__ wpk,
                                  const float* __restrict__ b, int64_t o, int64_t kh, int64_t kw, int64_t stride,
                                  int64_t oh_n, int64_t ow_n, float* __restrict__ dst) {
  constexpr int kPix = 8;
  const int64_t s = S > 0 ? S : stride;
  const int64_t opad = padded_channels(o);
  // Passes: 8 output pixels each, in row-major order, or two pool windows each.
  const int64_t out_w = P ? ow_n / 2 : ow_n, npix = P ? (oh_n / 2) * out_w : oh_n * ow_n;
  const int64_t step = P ? 2 : kPix;
  for (int64_t og = 0; og < o; og += kLanes) {
    const int64_t m = std::min<int64_t>(kLanes, o - og);
    float bias_l[kLanes] = {};
    if (b) std::memcpy(bias_l, b + og, m * sizeof(float));
    vf bias;
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
      vf acc[kPix];
      for (int r = 0; r < kPix; ++r) acc[r] = bias;
      for (int64_t dy = 0; dy < kh; ++dy) {
        for (int64_t dx = 0; dx < kw; ++dx) {
          const int64_t off = (dy * wp + dx) * c;
          const float* wt = wpk + (dy * kw + dx) * c * opad + og;
          for (int64_t ic = 0; ic < c; ++ic) {
            vf wv;
            std::memcpy(&wv, wt + ic * opad, sizeof(wv));
            for (int r = 0; r < kPix; ++r) acc[r] += base[r][off + ic] * wv;
          }
        }
      }
      for (int r = 0; r < kPix; ++r) acc[r] = vec16::activate_vec<A>(acc[r]);
      if constexpr (P == 0) {
        for (int r = 0; r < kPix && p0 + r < npix; ++r) {
          float v[kLanes];
          std::memcpy(v, &acc[r], sizeof(v));
          for (int64_t j = 0; j < m; ++j) dst[(og + j) * npix + p0 + r] = v[j];
        }
      } else {
        for (int q = 0; q < 2 && p0 + q < npix; ++q) {
          const vf* a = acc + 4 * q;
          const vf pooled = P == 2 ? pool_pair<P>(pool_pair<P>(a[0], a[1]), pool_pair<P>(a[2], a[3]))
                                   : ((a[0] + a[1]) + (a[2] + a[3])) * 0.25f;
          float v[kLanes];
          std::memcpy(v, &pooled, sizeof(v));
          for (int64_t j = 0; j < m; ++j) dst[(og + j) * npix + p0 + q] = v[j];
        }
      }
    }
  }
}

}  // namespace cnnfast::small_cnn_layers
