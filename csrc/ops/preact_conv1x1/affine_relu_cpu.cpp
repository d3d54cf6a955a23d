// The pre-activation prologue (eval BatchNorm + ReLU, optionally a 2x2 average pool) on NHWC rows.
// Built once per x86-64 level (common/cpu_clones.h).
#include "ops/preact_conv1x1/affine_relu_cpu.h"

#include "common/cpu_clones.h"

// One FMA per multiply-add in the AVX2/AVX-512 clones, as in common/vector_cpu.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

namespace cnnfast {

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

}  // namespace cnnfast
