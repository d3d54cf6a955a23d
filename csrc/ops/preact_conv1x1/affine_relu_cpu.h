// The pre-activation prologue (eval BatchNorm + ReLU, optionally a 2x2 average pool) on NHWC rows.
#pragma once

#include <cstdint>

namespace cnnfast {

// dst[r * cols + c] = max(src[r * pitch + c] * scale[c] + shift[c], 0): an eval-mode BatchNorm
// and ReLU applied to a block of NHWC rows (pre-activation), compacted into dense rows.
void affine_relu_rows_f32(float* dst, const float* src, int64_t rows, int64_t cols, int64_t pitch,
                          const float* scale, const float* shift);

// dst[c] = (f(p[c]) + f(p[dx + c]) + f(p[dy + c]) + f(p[dx + dy + c])) / 4 with
// f(v) = max(v * scale[c] + shift[c], 0): the same prologue followed by a 2x2 average pool, for one
// output pixel of an NHWC map (dx, dy: the input's pixel and row strides).
void affine_relu_avg4_f32(float* dst, const float* p, int64_t dx, int64_t dy, int64_t cols,
                          const float* scale, const float* shift);

}  // namespace cnnfast
