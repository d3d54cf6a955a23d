// small_cnn on the CPU. fp32: the whole network per image in one function, with no ATen call,
// allocation or dispatch between layers. LeNet-5's layers each take about a microsecond of
// arithmetic, while one ATen op costs several microseconds of dispatch and allocation: layer by
// layer, the framework is most of the time (eager 0.19 ms against ONNX Runtime's 0.03 ms here).
//
// Layout: planar (C, H, W) maps between layers, which is also the order nn.Flatten hands the
// first linear layer, so no weight is permuted. A conv accumulates 16-float vectors in registers,
// either over output columns (4 output rows at a time) or, where that fills the vectors better,
// over output channels (4 output pixels at a time, filter packed once per weight). The activation
// and a 2x2 pool run on the accumulators before the store; other pools run on the finished plane.
// Linear layers are GEMVs over the flattened map. Images go to threads; one image
// stays on one thread (a LeNet image is ~1 MFLOP: splitting it costs more than it saves).
// Other dtypes run the composite version (ATen ops layer by layer).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/cpu_clones.h"
#include "common/prepacked_weights.h"
#include "common/vec16_cpu.h"
#include "common/vector_cpu.h"
#include "ops/small_cnn/small_cnn.h"

namespace cnnfast {

namespace {

constexpr int kLanes = 16;  // one AVX-512 register of floats

// Everything run_image calls is inlined into it, so the whole network is compiled once per
// x86-64 level with run_image's clones (a helper called from a clone would be built for the
// baseline level only).
#define CNNFAST_INLINE inline __attribute__((always_inline))

// Unlike a float[16], a vf stays in a register across loops (common/vec16_cpu.h).
using vec16::vf;
typedef int32_t vi __attribute__((vector_size(kLanes * sizeof(int32_t))));

CNNFAST_INLINE vf splat(float v) { return vf{} + v; }

// Comparisons with NaN are false, so NaN passes through unchanged (as torch's clamps keep it).
CNNFAST_INLINE vf clamp(vf v, float lo, float hi) {
  v = v < splat(lo) ? splat(lo) : v;
  return v > splat(hi) ? splat(hi) : v;
}

// exp(x) for the sigmoid-family activations, 16 lanes at once: range reduction x = k ln2 + r
// (ln2 split in two for accuracy), a degree-6 polynomial for exp(r) on |r| <= ln2/2 (Cephes'
// expf coefficients), and 2^k put into the exponent bits. Relative error ~1e-7; clamped to the
// finite range; NaN stays NaN.
CNNFAST_INLINE vf exp_v(vf x) {
  x = clamp(x, -87.0f, 88.0f);
  const vf t = x * 1.44269504088896341f + 0.5f;
  vf k = __builtin_convertvector(__builtin_convertvector(t, vi), vf);  // truncated toward zero
  k = k > t ? k - 1.0f : k;                                            // floor
  const vf r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const vi bits = (__builtin_convertvector(k, vi) + 127) << 23;
  vf scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

template <Activation A>
CNNFAST_INLINE vf act_v(vf v) {
  if constexpr (A == Activation::ReLU) {
    return v < splat(0.0f) ? splat(0.0f) : v;  // NaN is kept, as torch.relu does
  } else if constexpr (A == Activation::ReLU6) {
    return clamp(v, 0.0f, 6.0f);
  } else if constexpr (A == Activation::SiLU) {
    return v / (1.0f + exp_v(-v));
  } else if constexpr (A == Activation::Sigmoid) {
    return 1.0f / (1.0f + exp_v(-v));
  } else if constexpr (A == Activation::HardSwish) {
    return v * clamp(v + 3.0f, 0.0f, 6.0f) / 6.0f;
  } else if constexpr (A == Activation::HardSigmoid) {
    return clamp(v + 3.0f, 0.0f, 6.0f) / 6.0f;
  } else if constexpr (A == Activation::Tanh) {
    // tanh v = 1 - 2 / (exp(2v) + 1): exact at the saturated ends, ~1e-7 absolute near 0.
    return 1.0f - 2.0f / (exp_v(2.0f * v) + 1.0f);
  } else {
    return v;
  }
}

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
      x = act_v<A>(x);
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

constexpr int kRows = 4;  // output rows per pass: four independent FMA chains hide the FMA latency

// One conv layer over one image. src: planar (C, hp, wp) planes, padding already applied, with
// slack after the last plane (reads run up to kRows - 1 rows and kLanes columns past the end);
// dst: planar (O, OH, OW), activation applied. Each pass computes kLanes output columns of kRows
// output rows of one output channel: per input channel and kernel tap, one weight (broadcast)
// times kRows input row segments.
//
// With P (a 2x2 pool, 1 average or 2 max) the pool is applied before the store: rows 0+1 and 2+3
// vertically, then even and odd lanes, so dst is the pooled (O, OH / 2, OW / 2) map (floor mode).
template <int S, Activation A, int P>
CNNFAST_INLINE void conv_layer(const float* __restrict__ src, int64_t c, int64_t hp, int64_t wp,
                               const float* __restrict__ w, const float* __restrict__ b, int64_t o, int64_t kh,
                               int64_t kw, int64_t stride, int64_t oh_n, int64_t ow_n, float* __restrict__ dst) {
  const int64_t s = S > 0 ? S : stride;
  const int64_t row_step = s * wp;  // between the input rows of consecutive output rows
  for (int64_t oc = 0; oc < o; ++oc) {
    const float* wo = w + oc * c * kh * kw;
    const float bias = b ? b[oc] : 0.0f;
    for (int64_t oh0 = 0; oh0 < oh_n; oh0 += kRows) {
      for (int64_t ow0 = 0; ow0 < ow_n; ow0 += kLanes) {
        vf acc0 = vf{} + bias, acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int64_t ic = 0; ic < c; ++ic) {
          for (int64_t dy = 0; dy < kh; ++dy) {
            const float* row = src + (ic * hp + oh0 * s + dy) * wp + ow0 * s;
            const float* wr = wo + (ic * kh + dy) * kw;
            for (int64_t dx = 0; dx < kw; ++dx) {
              const vf wv = vf{} + wr[dx];
              acc0 += wv * load_row<S>(row + dx, s);
              acc1 += wv * load_row<S>(row + row_step + dx, s);
              acc2 += wv * load_row<S>(row + 2 * row_step + dx, s);
              acc3 += wv * load_row<S>(row + 3 * row_step + dx, s);
            }
          }
        }
        const vf accs[kRows] = {act_v<A>(acc0), act_v<A>(acc1), act_v<A>(acc2), act_v<A>(acc3)};
        if constexpr (P == 0) {
          const int64_t n = std::min<int64_t>(kLanes, ow_n - ow0);
          for (int r = 0; r < kRows && oh0 + r < oh_n; ++r) {
            std::memcpy(dst + (oc * oh_n + oh0 + r) * ow_n + ow0, &accs[r], n * sizeof(float));
          }
        } else {
          const int64_t ph = oh_n / 2, pw = ow_n / 2, n = std::min<int64_t>(kLanes / 2, pw - ow0 / 2);
          for (int r = 0; r < kRows / 2 && oh0 / 2 + r < ph; ++r) {
            const vf v = pool_pair<P>(accs[2 * r], accs[2 * r + 1]);
            const vf even = __builtin_shufflevector(v, v, 0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
            const vf odd = __builtin_shufflevector(v, v, 1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);
            const vf pooled = P == 2 ? pool_pair<P>(even, odd) : (even + odd) * 0.25f;
            if (n > 0) std::memcpy(dst + (oc * ph + oh0 / 2 + r) * pw + ow0 / 2, &pooled, n * sizeof(float));
          }
        }
      }
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
  const auto fill = [](int64_t n) { return static_cast<double>(n) / (kLanes * ((n + kLanes - 1) / kLanes)); };
  return fill(L.out_c) > fill(L.out_w);
}

inline int64_t padded_channels(int64_t o) { return (o + kLanes - 1) / kLanes * kLanes; }

// The by-channels conv loop. src: channels-last padded input (hp, wp, C); wpk: the filter packed
// as (KH, KW, C, O rounded up to kLanes, zero-filled); dst: planar (O, OH, OW), activation applied.
// Each pass computes kLanes output channels of 4 output pixels: per tap and input channel, one
// filter vector times 4 broadcast input values.
//
// With P (a 2x2 pool, 1 average or 2 max) the 4 pixels of a pass are one pool window, pooled
// before the store: dst is then the pooled (O, OH / 2, OW / 2) map (floor mode).
template <int S, Activation A, int P>
CNNFAST_INLINE void conv_layer_cv(const float* __restrict__ src, int64_t c, int64_t wp, const float* __restrict__ wpk,
                                  const float* __restrict__ b, int64_t o, int64_t kh, int64_t kw, int64_t stride,
                                  int64_t oh_n, int64_t ow_n, float* __restrict__ dst) {
  const int64_t s = S > 0 ? S : stride;
  const int64_t opad = padded_channels(o);
  // Passes: 4 output pixels each, in row-major order, or one pool window each.
  const int64_t out_w = P ? ow_n / 2 : ow_n, npix = P ? (oh_n / 2) * out_w : oh_n * ow_n;
  for (int64_t og = 0; og < o; og += kLanes) {
    const int64_t m = std::min<int64_t>(kLanes, o - og);
    float bias_l[kLanes] = {};
    if (b) std::memcpy(bias_l, b + og, m * sizeof(float));
    vf bias;
    std::memcpy(&bias, bias_l, sizeof(bias));
    for (int64_t p0 = 0; p0 < npix; p0 += P ? 1 : 4) {
      const float* base[4];
      for (int r = 0; r < 4; ++r) {
        int64_t y, x;
        if constexpr (P != 0) {  // pixel r of the window of pooled pixel p0
          y = (p0 / out_w) * 2 + r / 2, x = (p0 % out_w) * 2 + r % 2;
        } else {
          const int64_t p = std::min(p0 + r, npix - 1);  // a short last group repeats a pixel
          y = p / ow_n, x = p % ow_n;
        }
        base[r] = src + (y * s * wp + x * s) * c;
      }
      vf acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;
      for (int64_t dy = 0; dy < kh; ++dy) {
        for (int64_t dx = 0; dx < kw; ++dx) {
          const int64_t off = (dy * wp + dx) * c;
          const float* wt = wpk + (dy * kw + dx) * c * opad + og;
          for (int64_t ic = 0; ic < c; ++ic) {
            vf wv;
            std::memcpy(&wv, wt + ic * opad, sizeof(wv));
            acc0 += base[0][off + ic] * wv;
            acc1 += base[1][off + ic] * wv;
            acc2 += base[2][off + ic] * wv;
            acc3 += base[3][off + ic] * wv;
          }
        }
      }
      const vf accs[4] = {act_v<A>(acc0), act_v<A>(acc1), act_v<A>(acc2), act_v<A>(acc3)};
      if constexpr (P == 0) {
        for (int r = 0; r < 4 && p0 + r < npix; ++r) {
          float v[kLanes];
          std::memcpy(v, &accs[r], sizeof(v));
          for (int64_t j = 0; j < m; ++j) dst[(og + j) * npix + p0 + r] = v[j];
        }
      } else {
        const vf pooled = P == 2 ? pool_pair<P>(pool_pair<P>(accs[0], accs[1]), pool_pair<P>(accs[2], accs[3]))
                                 : ((accs[0] + accs[1]) + (accs[2] + accs[3])) * 0.25f;
        float v[kLanes];
        std::memcpy(v, &pooled, sizeof(v));
        for (int64_t j = 0; j < m; ++j) dst[(og + j) * npix + p0] = v[j];
      }
    }
  }
}

struct Net {
  const std::vector<SmallCnnLayer>& layers;
  std::vector<const float*> w, b;
  std::vector<const float*> packed;  // by-channels conv layers: the filter as conv_layer_cv reads it
  int64_t map_floats;  // the largest map any layer reads or writes, padding and read slack included
};

int64_t map_floats(const std::vector<SmallCnnLayer>& layers) {
  int64_t most = 0;
  for (const SmallCnnLayer& L : layers) {
    const int64_t padded = L.in_c * (L.in_h + 2 * L.padding) * (L.in_w + 2 * L.padding);
    // conv_layer reads up to kRows - 1 rows and kLanes * stride + kw values past the last row.
    const int64_t slack = L.conv ? kRows * L.stride * (L.in_w + 2 * L.padding) + kLanes * L.stride + L.kw : 0;
    most = std::max({most, padded + slack, L.out_c * L.out_h * L.out_w, L.in_c});
  }
  return most;
}

// Scratch per thread (three maps), kept across calls: no allocation in the steady state.
std::vector<float>& scratch() {
  static thread_local std::vector<float> buf;
  return buf;
}

// The whole network for one image x (C, H, W) with strides (sc, sh, sw); writes the last
// layer's outputs to out.
CNNFAST_CPU_CLONES void run_image(const Net& net, const float* x, int64_t sc, int64_t sh, int64_t sw,
                                  float* __restrict__ out) {
  std::vector<float>& buf = scratch();
  if (static_cast<int64_t>(buf.size()) < 3 * net.map_floats) buf.assign(3 * net.map_floats, 0.0f);
  float* padded = buf.data();                 // a conv's zero-padded input planes
  float* conv = padded + net.map_floats;      // a conv's output before its pool
  float* next = conv + net.map_floats;        // the next layer's input
  const float* cur = nullptr;                 // this layer's planar input; nullptr: read x
  const size_t last = net.layers.size() - 1;
  for (size_t i = 0; i <= last; ++i) {
    const SmallCnnLayer& L = net.layers[i];
    if (!L.conv) {
      float* dst = i == last ? out : (cur == next ? conv : next);
      gemv_f32(net.w[i], cur, dst, L.out_c, L.in_c);
      if (net.b[i]) {
        for (int64_t j = 0; j < L.out_c; ++j) dst[j] += net.b[i][j];
      }
      CNNFAST_SWITCH_ACTIVATION(L.act, activate<A>(dst, L.out_c))
      cur = dst;
      continue;
    }
    // Copy the input into zero padding (x itself may have any strides): planar planes for the
    // by-columns loop, channels-last for the by-channels one.
    const bool cv = net.packed[i] != nullptr;
    const int64_t p = L.padding, hp = L.in_h + 2 * p, wp = L.in_w + 2 * p;
    const int64_t pitch_c = cv ? 1 : hp * wp, pitch_y = cv ? wp * L.in_c : wp, pitch_x = cv ? L.in_c : 1;
    if (p > 0) std::fill(padded, padded + L.in_c * hp * wp, 0.0f);
    for (int64_t ch = 0; ch < L.in_c; ++ch) {
      for (int64_t y = 0; y < L.in_h; ++y) {
        float* dst = padded + ch * pitch_c + (y + p) * pitch_y + p * pitch_x;
        if (cur && !cv) {
          std::memcpy(dst, cur + (ch * L.in_h + y) * L.in_w, L.in_w * sizeof(float));
        } else if (cur) {
          const float* src = cur + (ch * L.in_h + y) * L.in_w;
          for (int64_t xx = 0; xx < L.in_w; ++xx) dst[xx * pitch_x] = src[xx];
        } else {
          const float* src = x + ch * sc + y * sh;
          for (int64_t xx = 0; xx < L.in_w; ++xx) dst[xx * pitch_x] = src[xx * sw];
        }
      }
    }
    // A 2x2 pool is applied in the conv's store; other pools run on the conv's output after it.
    // Either way the conv (or its pool) writes the next layer's input, or the result.
    const int fused = L.pool_size == 2 ? static_cast<int>(L.pool) : 0;
    float* result = i == last ? out : next;
    float* dst = L.pool && !fused ? conv : result;
    // The activation, the fused pool and a unit stride are compile-time constants of the loops.
#define CNNFAST_CONV(P)                                                                                         \
  if (cv && L.stride == 1) {                                                                                     \
    CNNFAST_SWITCH_ACTIVATION(L.act, (conv_layer_cv<1, A, P>(padded, L.in_c, wp, net.packed[i], net.b[i], L.out_c, \
                                                             L.kh, L.kw, 1, L.out_h, L.out_w, dst)))            \
  } else if (cv) {                                                                                               \
    CNNFAST_SWITCH_ACTIVATION(L.act, (conv_layer_cv<0, A, P>(padded, L.in_c, wp, net.packed[i], net.b[i], L.out_c, \
                                                             L.kh, L.kw, L.stride, L.out_h, L.out_w, dst)))     \
  } else if (L.stride == 1) {                                                                                    \
    CNNFAST_SWITCH_ACTIVATION(L.act, (conv_layer<1, A, P>(padded, L.in_c, hp, wp, net.w[i], net.b[i], L.out_c,     \
                                                          L.kh, L.kw, 1, L.out_h, L.out_w, dst)))               \
  } else {                                                                                                       \
    CNNFAST_SWITCH_ACTIVATION(L.act, (conv_layer<0, A, P>(padded, L.in_c, hp, wp, net.w[i], net.b[i], L.out_c,     \
                                                          L.kh, L.kw, L.stride, L.out_h, L.out_w, dst)))        \
  }
    if (fused == 1) {
      CNNFAST_CONV(1)
    } else if (fused == 2) {
      CNNFAST_CONV(2)
    } else {
      CNNFAST_CONV(0)
    }
#undef CNNFAST_CONV
    if (L.pool && !fused) pool_layer(conv, L, result);
    cur = next;
  }
}

at::Tensor small_cnn_cpu(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                         at::IntArrayRef program) {
  const auto layers = check_small_cnn(x, weights, biases, program);
  // The fast path starts with a conv (run_image's linear layers read the previous layer's map).
  if (x.scalar_type() != at::kFloat || !layers.front().conv) return small_cnn_composite(x, weights, biases, program);
  const SmallCnnLayer& L = layers.back();
  const int64_t n = x.size(0);
  at::Tensor out = L.conv ? at::empty({n, L.out_c, L.pooled_h, L.pooled_w}, x.options())
                          : at::empty({n, L.out_c}, x.options());
  if (n == 0) return out;
  // Contiguous float weights, held for the call (a no-op for the module's own parameters).
  std::vector<at::Tensor> w, b, packed;
  Net net{layers, {}, {}, {}, map_floats(layers)};
  for (size_t i = 0; i < layers.size(); ++i) {
    const SmallCnnLayer& li = layers[i];
    w.push_back(weights[i].contiguous());
    const std::optional<at::Tensor> bias = bias_of(biases, i);
    b.push_back(bias.has_value() ? bias->contiguous() : at::Tensor());
    net.w.push_back(w.back().const_data_ptr<float>());
    net.b.push_back(b.back().defined() ? b.back().const_data_ptr<float>() : nullptr);
    net.packed.push_back(nullptr);
    if (li.conv && by_channels(li)) {
      // (O, C, KH, KW) -> (KH, KW, C, O padded to kLanes, zero-filled), packed once per weight
      // (and again only if it changes): repacking on every call cost as much as the conv.
      packed.push_back(prepacked_weight(w.back(), /*layout=*/0, [](const at::Tensor& wt) {
        const int64_t o = wt.size(0), c = wt.size(1), kh = wt.size(2), kw = wt.size(3);
        return at::constant_pad_nd(wt.permute({2, 3, 1, 0}).reshape({kh * kw * c, o}),
                                   {0, padded_channels(o) - o}).contiguous();
      }));
      net.packed.back() = packed.back().const_data_ptr<float>();
    }
  }
  const float* xp = x.const_data_ptr<float>();
  float* op = out.mutable_data_ptr<float>();
  const int64_t per_image = out.numel() / n;
  const auto run = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      run_image(net, xp + i * x.stride(0), x.stride(1), x.stride(2), x.stride(3), op + i * per_image);
    }
  };
  if (n == 1) {
    run(0, 1);  // no thread team for one image: its fork and join cost more than LeNet's arithmetic
  } else {
    at::parallel_for(0, n, 1, run);
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("small_cnn", TORCH_FN(small_cnn_cpu));
}

}  // namespace cnnfast
