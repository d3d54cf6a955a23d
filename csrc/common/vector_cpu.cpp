// dot_f32, gemv_f32, add_rows_f32, affine_relu_rows_f32, affine_relu_avg4_f32 and max_pool_row_f32, built once per x86-64 level (see vector_cpu.h).
#include "common/vector_cpu.h"

#include "common/cpu_clones.h"

// Let the AVX2/AVX-512 clones fuse a * b + c into one FMA, as MKL's GEMV does: one rounding per
// product instead of two, and one instruction (the baseline x86-64 clone has no FMA and keeps
// separate operations).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

namespace cnnfast {

namespace {

inline float dot_inline(const float* a, const float* b, int64_t k) {
  // 16 partial sums (one 512-bit register); a second set of 16 hides the adds' latency on
  // long rows. Short rows (an SE layer with 16 inputs) pay for one horizontal sum only.
  constexpr int kLanes = 16;
  float lo[kLanes] = {}, hi[kLanes] = {};
  int64_t i = 0;
  for (; i + 2 * kLanes <= k; i += 2 * kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      lo[l] += a[i + l] * b[i + l];
      hi[l] += a[i + kLanes + l] * b[i + kLanes + l];
    }
  }
  for (; i + kLanes <= k; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lo[l] += a[i + l] * b[i + l];
  }
  for (int l = 0; l < kLanes; ++l) lo[l] += hi[l];
  float total = 0;
  for (int l = 0; l < kLanes; ++l) total += lo[l];
  for (; i < k; ++i) total += a[i] * b[i];
  return total;
}

}  // namespace

CNNFAST_CPU_CLONES float dot_f32(const float* a, const float* b, int64_t k) {
  return dot_inline(a, b, k);
}

CNNFAST_CPU_CLONES void gemv_f32(const float* w, const float* x, float* out, int64_t rows, int64_t k) {
  for (int64_t j = 0; j < rows; ++j) out[j] = dot_inline(w + j * k, x, k);
}

CNNFAST_CPU_CLONES void add_rows_f32(float* __restrict__ acc, const float* __restrict__ x, int64_t rows, int64_t c) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {  // four rows per pass over acc: a quarter of the acc traffic
    const float* x0 = x + r * c;
    for (int64_t k = 0; k < c; ++k) acc[k] += (x0[k] + x0[c + k]) + (x0[2 * c + k] + x0[3 * c + k]);
  }
  for (; r < rows; ++r) {
    const float* x0 = x + r * c;
    for (int64_t k = 0; k < c; ++k) acc[k] += x0[k];
  }
}

CNNFAST_CPU_CLONES void affine_relu_rows_f32(float* __restrict__ dst, const float* __restrict__ src,
                                             int64_t rows, int64_t cols, int64_t pitch,
                                             const float* __restrict__ scale, const float* __restrict__ shift) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * pitch;
    float* d = dst + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = s[c] * scale[c] + shift[c];
      d[c] = v < 0.0f ? 0.0f : v;  // NaN stays NaN, as torch.relu
    }
  }
}

CNNFAST_CPU_CLONES void affine_relu_avg4_f32(float* __restrict__ dst, const float* __restrict__ p, int64_t dx,
                                             int64_t dy, int64_t cols, const float* __restrict__ scale,
                                             const float* __restrict__ shift) {
  for (int64_t c = 0; c < cols; ++c) {
    const float s = scale[c], b = shift[c];
    const float v0 = p[c] * s + b, v1 = p[dx + c] * s + b, v2 = p[dy + c] * s + b, v3 = p[dx + dy + c] * s + b;
    dst[c] = ((v0 < 0.0f ? 0.0f : v0) + (v1 < 0.0f ? 0.0f : v1) + (v2 < 0.0f ? 0.0f : v2) +
              (v3 < 0.0f ? 0.0f : v3)) * 0.25f;
  }
}

CNNFAST_CPU_CLONES void max_pool_row_f32(float* __restrict__ out, const float* __restrict__ img, int64_t w,
                                         int64_t c, int64_t ow, int64_t h0, int64_t h1, int64_t kw, int64_t sw,
                                         int64_t pw) {
  for (int64_t xo = 0; xo < ow; ++xo) {
    const int64_t w0 = xo * sw - pw < 0 ? 0 : xo * sw - pw;
    const int64_t w1 = xo * sw - pw + kw > w ? w : xo * sw - pw + kw;
    float* __restrict__ o = out + xo * c;
    const float* first = img + (h0 * w + w0) * c;
    for (int64_t k = 0; k < c; ++k) o[k] = first[k];
    for (int64_t i = h0; i < h1; ++i) {
      for (int64_t j = w0; j < w1; ++j) {
        if (i == h0 && j == w0) continue;
        const float* __restrict__ v = img + (i * w + j) * c;
        for (int64_t k = 0; k < c; ++k) o[k] = (v[k] > o[k] || v[k] != v[k]) ? v[k] : o[k];
      }
    }
  }
}

}  // namespace cnnfast
