// dot_f32 and gemv_f32, built once per x86-64 level (see vector_cpu.h).
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

}  // namespace cnnfast
