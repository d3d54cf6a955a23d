// Vector loops of the CPU kernels (the SE excitation's FC layers, the squeeze's row sums), compiled
// per x86-64 level.
#pragma once

#include <ATen/OpMathType.h>

#include <cstdint>

namespace cnnfast {

// sum_i a[i] * b[i] in fp32. Compiled for AVX-512, AVX2+FMA and baseline x86-64 and picked at
// load time for the running CPU (GCC/Clang function multi-versioning): measured 2.1x faster than
// the baseline build on a 1 MB weight matrix (11 vs 24 us on Zen), where it is bandwidth-bound.
float dot_f32(const float* a, const float* b, int64_t k);

// out[j] = w[j, :] . x for j < rows; w is (rows, k) row-major. One call per block of rows keeps
// the per-row cost down to the arithmetic (no call through the CPU-level dispatch per row).
void gemv_f32(const float* w, const float* x, float* out, int64_t rows, int64_t k);

// acc[k] += sum over rows r of x[r * c + k], k < c: column sums of a (rows, c) row-major block
// (channels_last squeeze). Same multi-versioning as dot_f32.
void add_rows_f32(float* acc, const float* x, int64_t rows, int64_t c);

// dst[r * cols + c] = max(src[r * pitch + c] * scale[c] + shift[c], 0): an eval-mode BatchNorm
// and ReLU applied to a block of NHWC rows (pre-activation), compacted into dense rows.
void affine_relu_rows_f32(float* dst, const float* src, int64_t rows, int64_t cols, int64_t pitch,
                          const float* scale, const float* shift);

// dst[c] = (f(p[c]) + f(p[dx + c]) + f(p[dy + c]) + f(p[dx + dy + c])) / 4 with
// f(v) = max(v * scale[c] + shift[c], 0): the same prologue followed by a 2x2 average pool, for one
// output pixel of an NHWC map (dx, dy: the input's pixel and row strides).
void affine_relu_avg4_f32(float* dst, const float* p, int64_t dx, int64_t dy, int64_t cols,
                          const float* scale, const float* shift);

// One output row of a channels_last max pool: out[xo, :] = max over input rows [h0, h1) of img
// (an (H, W, C) image) and the window's columns, for xo < ow (window: kw wide, stride sw, left
// padding pw; padding never wins). NaN wins, as in torch.max_pool2d.
void max_pool_row_f32(float* out, const float* img, int64_t w, int64_t c, int64_t ow, int64_t h0, int64_t h1,
                      int64_t kw, int64_t sw, int64_t pw);

// Any other dtype, accumulated in at::opmath_type (fp32 for half types, fp64 for double).
template <typename T>
inline at::opmath_type<T> dot(const T* a, const T* b, int64_t k) {
  using acc_t = at::opmath_type<T>;
  // Independent partial sums, so the compiler vectorises without reassociating.
  constexpr int kLanes = 16;
  acc_t lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] += static_cast<acc_t>(a[i + l]) * static_cast<acc_t>(b[i + l]);
  }
  acc_t total = 0;
  for (int l = 0; l < kLanes; ++l) total += lanes[l];
  for (; i < k; ++i) total += static_cast<acc_t>(a[i]) * static_cast<acc_t>(b[i]);
  return total;
}

template <>
inline float dot<float>(const float* a, const float* b, int64_t k) {
  return dot_f32(a, b, k);
}

}  // namespace cnnfast
