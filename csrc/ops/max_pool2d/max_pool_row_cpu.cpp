// One output row of a channels_last max pool.
// Built once per x86-64 level (common/cpu_clones.h).
//
// Four 16-channel vectors of an output pixel stay in registers while every tap of its window is
// folded in, so each input vector is loaded once and the output stored once. (The loop this
// replaces read, compared and stored the output row again for every tap: GoogLeNet's pools at
// batch 8 took 9.0 ms there against ONNX Runtime's 5.1.) NaN handling is split so it vectorises:
// the max keeps the running value when either side is NaN, and the NaNs seen are tracked apart, as
// the largest |bits| of the inputs; a float-vector `v != v` select is lowered lane by lane by GCC
// (measured 30x slower in this loop).
#include "ops/max_pool2d/max_pool_row_cpu.h"

#include <algorithm>

#include "common/cpu_clones.h"
#include "common/vec16_cpu.h"

namespace cnnfast {

namespace {

using vec16::kLanes;
using vec16::vf;
typedef int32_t vi __attribute__((vector_size(kLanes * sizeof(int32_t))));

constexpr int kVectors = 4;  // independent chains per pixel: 64 channels

inline __attribute__((always_inline)) vi abs_bits(vf v) {
  vi b;
  __builtin_memcpy(&b, &v, sizeof(b));
  return b & 0x7fffffff;
}

// The result of a window: the max, or a NaN where one was seen (|bits| above +Inf's).
inline __attribute__((always_inline)) vf finish(vf m, vi nan_bits) {
  vi mb;
  __builtin_memcpy(&mb, &m, sizeof(mb));
  const vi r = nan_bits > 0x7f800000 ? nan_bits : mb;
  vf out;
  __builtin_memcpy(&out, &r, sizeof(out));
  return out;
}

// Channels [k0, k0 + V * 16) of output pixel o: the window's rows [h0, h1) and columns [w0, w1).
template <int V>
inline __attribute__((always_inline)) void window_max(float* __restrict__ o, const float* __restrict__ img, int64_t w,
                                                      int64_t c, int64_t k0, int64_t h0, int64_t h1, int64_t w0,
                                                      int64_t w1) {
  vf m[V];
  vi nan_bits[V];
  const float* first = img + (h0 * w + w0) * c + k0;
#pragma GCC unroll 4
  for (int q = 0; q < V; ++q) {
    m[q] = vec16::load(first + q * kLanes);
    nan_bits[q] = abs_bits(m[q]);
  }
  for (int64_t i = h0; i < h1; ++i) {
    for (int64_t j = w0; j < w1; ++j) {
      const float* v = img + (i * w + j) * c + k0;
#pragma GCC unroll 4
      for (int q = 0; q < V; ++q) {
        const vf b = vec16::load(v + q * kLanes);
        m[q] = b > m[q] ? b : m[q];
        const vi ab = abs_bits(b);
        nan_bits[q] = ab > nan_bits[q] ? ab : nan_bits[q];
      }
    }
  }
#pragma GCC unroll 4
  for (int q = 0; q < V; ++q) vec16::store(o + k0 + q * kLanes, finish(m[q], nan_bits[q]));
}

}  // namespace

CNNFAST_CPU_CLONES void max_pool_row_f32(float* __restrict__ out, const float* __restrict__ img, int64_t w,
                                         int64_t c, int64_t ow, int64_t h0, int64_t h1, int64_t kw, int64_t sw,
                                         int64_t pw) {
  const int64_t cv = c / kLanes * kLanes;  // channels in whole vectors; the rest below, one by one
  for (int64_t xo = 0; xo < ow; ++xo) {
    const int64_t w0 = std::max<int64_t>(xo * sw - pw, 0);
    const int64_t w1 = std::min<int64_t>(xo * sw - pw + kw, w);
    float* __restrict__ o = out + xo * c;
    int64_t k0 = 0;
    for (; k0 + kVectors * kLanes <= cv; k0 += kVectors * kLanes) window_max<kVectors>(o, img, w, c, k0, h0, h1, w0, w1);
    for (; k0 < cv; k0 += kLanes) window_max<1>(o, img, w, c, k0, h0, h1, w0, w1);
    for (int64_t k = cv; k < c; ++k) {
      float m = img[(h0 * w + w0) * c + k];
      for (int64_t i = h0; i < h1; ++i) {
        for (int64_t j = w0; j < w1; ++j) {
          const float v = img[(i * w + j) * c + k];
          m = (v > m || v != v) ? v : m;
        }
      }
      o[k] = m;
    }
  }
}

}  // namespace cnnfast
