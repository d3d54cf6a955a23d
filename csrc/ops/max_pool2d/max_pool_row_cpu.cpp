// One output row of a channels_last max pool.
// Built once per x86-64 level (common/cpu_clones.h).
#include "ops/max_pool2d/max_pool_row_cpu.h"

#include "common/cpu_clones.h"

namespace cnnfast {

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
