// Matrix products with few rows on the left (fully connected layers at inference batch sizes).
#pragma once

#include <cstdint>

namespace cnnfast {

// out[i * ldo + j] = x[i, :] . w[j, :] for i < n and j0 <= j < j1; x is (n, k) and w (m, k),
// both row-major. With a handful of rows in x the cost is reading w, so w is streamed from memory
// exactly once: each block of its rows is multiplied with every row of x while it is in cache.
// fp32, built per x86-64 level (see cpu_clones.h); one call per thread's block of w's rows.
void skinny_gemm_f32(const float* x, const float* w, float* out, int64_t n, int64_t k, int64_t ldo, int64_t j0,
                     int64_t j1);

}  // namespace cnnfast
