// One output row of a channels_last max pool.
// Built once per x86-64 level on that level's vector width (common/cpu_levels.h: 16 lanes with
// AVX-512, 8 with AVX2, 4 below). The 16-lane source built as an AVX2 clone kept its vectors on
// the stack (common/vec_cpu.h): on an AMD EPYC Zen 3 (2 threads) ShuffleNet V2's 3x3 pool over 24 x
// 112x112 took 1134 us a call at batch 1 that way, 68 us on 8 lanes; ResNet's over 64 x 112x112
// 1480 against 84 us; VGG's 2x2 over 64 x 224x224 3828 against 261 us.
//
// Four vectors of channels of an output pixel stay in registers while every tap of its window is
// folded in, so each input vector is loaded once and the output stored once. (The loop this
// replaces read, compared and stored the output row again for every tap: GoogLeNet's pools at
// batch 8 took 9.0 ms there against ONNX Runtime's 5.1.) NaN handling is split so it vectorises:
// the max keeps the running value when either side is NaN, and the NaNs seen are tracked apart, as
// the largest |bits| of the inputs; a float-vector `v != v` select is lowered lane by lane by GCC
// (measured 30x slower in this loop).
#include "ops/max_pool2d/max_pool_row_cpu.h"

#include <algorithm>

#include "common/cpu_levels.h"
#include "common/vec_cpu.h"

namespace cnnfast {

namespace {

constexpr int kVectors = 4;  // independent chains per pixel: 64 channels with AVX-512, 32 with AVX2

template <class vf, class vi = vec::int_of<vf>>
inline __attribute__((always_inline)) vi abs_bits(vf v) {
  vi b;
  __builtin_memcpy(&b, &v, sizeof(b));
  return b & 0x7fffffff;
}

// The result of a window: the max, or a NaN where one was seen (|bits| above +Inf's).
template <class vf, class vi>
inline __attribute__((always_inline)) vf finish(vf m, vi nan_bits) {
  vi mb;
  __builtin_memcpy(&mb, &m, sizeof(mb));
  const vi r = nan_bits > 0x7f800000 ? nan_bits : mb;
  vf out;
  __builtin_memcpy(&out, &r, sizeof(out));
  return out;
}

// Channels [k0, k0 + V * W) of output pixel o: the window's rows [h0, h1) and columns [w0, w1).
template <int W, int V>
inline __attribute__((always_inline)) void window_max(float* __restrict__ o, const float* __restrict__ img, int64_t w,
                                                      int64_t c, int64_t k0, int64_t h0, int64_t h1, int64_t w0,
                                                      int64_t w1) {
  using vf = vec::vf<W>;
  using vi = vec::int_of<vf>;
  vf m[V];
  vi nan_bits[V];
  const float* first = img + (h0 * w + w0) * c + k0;
#pragma GCC unroll 4
  for (int q = 0; q < V; ++q) {
    m[q] = vec::load<vf>(first + q * W);
    nan_bits[q] = abs_bits(m[q]);
  }
  for (int64_t i = h0; i < h1; ++i) {
    for (int64_t j = w0; j < w1; ++j) {
      const float* v = img + (i * w + j) * c + k0;
#pragma GCC unroll 4
      for (int q = 0; q < V; ++q) {
        const vf b = vec::load<vf>(v + q * W);
        m[q] = b > m[q] ? b : m[q];
        const vi ab = abs_bits(b);
        nan_bits[q] = ab > nan_bits[q] ? ab : nan_bits[q];
      }
    }
  }
#pragma GCC unroll 4
  for (int q = 0; q < V; ++q) vec::store(o + k0 + q * W, finish(m[q], nan_bits[q]));
}

// Lanes [0, n) of the W floats at p; the lanes past n are read too where that stays inside the
// image (they belong to the next pixel and are never stored), else left zero.
template <int W>
inline __attribute__((always_inline)) vec::vf<W> load_part(const float* p, int64_t n, bool whole) {
  if (whole) return vec::load<vec::vf<W>>(p);
  vec::vf<W> v{};
#pragma GCC unroll 16
  for (int i = 0; i < W; ++i) {
    if (i < n) v[i] = p[i];
  }
  return v;
}

// The last n < W channels [k0, k0 + n) of output pixel o, as one vector: the same max and NaN
// tracking as window_max. One channel at a time, the compare-and-select per value branched on the
// data: ShuffleNet's 24-channel pool took 321 us against 23 for 32 channels (2 threads, Zen 5).
// img_floats: the image's size, which the whole-vector loads must not pass.
template <int W>
inline __attribute__((always_inline)) void window_max_tail(float* __restrict__ o, const float* __restrict__ img,
                                                           int64_t w, int64_t c, int64_t k0, int64_t n, int64_t h0,
                                                           int64_t h1, int64_t w0, int64_t w1, int64_t img_floats) {
  using vf = vec::vf<W>;
  using vi = vec::int_of<vf>;
  const auto at = [&](int64_t i, int64_t j) __attribute__((always_inline)) {
    const int64_t off = (i * w + j) * c + k0;
    return load_part<W>(img + off, n, off + W <= img_floats);
  };
  vf m = at(h0, w0);
  vi nan_bits = abs_bits(m);
  for (int64_t i = h0; i < h1; ++i) {
    for (int64_t j = w0; j < w1; ++j) {
      const vf b = at(i, j);
      m = b > m ? b : m;
      const vi ab = abs_bits(b);
      nan_bits = ab > nan_bits ? ab : nan_bits;
    }
  }
  const vf r = finish(m, nan_bits);
#pragma GCC unroll 16
  for (int i = 0; i < W; ++i) {
    if (i < n) o[k0 + i] = r[i];
  }
}

template <int W>
inline __attribute__((always_inline)) void max_pool_row_at(float* __restrict__ out, int64_t out_pixel,
                                                           const float* __restrict__ img, int64_t h, int64_t w,
                                                           int64_t c, int64_t ow, int64_t h0, int64_t h1, int64_t kw,
                                                           int64_t sw, int64_t pw) {
  const int64_t img_floats = h * w * c;
  const int64_t cv = c / W * W;  // channels in whole vectors; the rest in one part-vector
  for (int64_t xo = 0; xo < ow; ++xo) {
    const int64_t w0 = std::max<int64_t>(xo * sw - pw, 0);
    const int64_t w1 = std::min<int64_t>(xo * sw - pw + kw, w);
    float* __restrict__ o = out + xo * out_pixel;
    int64_t k0 = 0;
    for (; k0 + kVectors * W <= cv; k0 += kVectors * W) window_max<W, kVectors>(o, img, w, c, k0, h0, h1, w0, w1);
    for (; k0 < cv; k0 += W) window_max<W, 1>(o, img, w, c, k0, h0, h1, w0, w1);
    if (cv < c) window_max_tail<W>(o, img, w, c, cv, c - cv, h0, h1, w0, w1, img_floats);
  }
}

#define CNNFAST_POOL_ROW_ARGS                                                                                        \
  float *out, int64_t out_pixel, const float *img, int64_t h, int64_t w, int64_t c, int64_t ow, int64_t h0, int64_t h1, \
      int64_t kw, int64_t sw, int64_t pw
#if CNNFAST_CPU_LEVELS
CNNFAST_TARGET_V4 void max_pool_row_v4(CNNFAST_POOL_ROW_ARGS) {
  max_pool_row_at<16>(out, out_pixel, img, h, w, c, ow, h0, h1, kw, sw, pw);
}

CNNFAST_TARGET_V3 void max_pool_row_v3(CNNFAST_POOL_ROW_ARGS) {
  max_pool_row_at<8>(out, out_pixel, img, h, w, c, ow, h0, h1, kw, sw, pw);
}
#endif

void max_pool_row_baseline(CNNFAST_POOL_ROW_ARGS) {
  max_pool_row_at<4>(out, out_pixel, img, h, w, c, ow, h0, h1, kw, sw, pw);
}
#undef CNNFAST_POOL_ROW_ARGS

}  // namespace

MaxPoolRowF32 max_pool_row_f32() { return CNNFAST_PICK_LEVEL(max_pool_row); }

}  // namespace cnnfast
