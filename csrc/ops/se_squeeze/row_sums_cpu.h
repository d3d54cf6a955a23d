// Column sums of channels_last rows: the squeeze's inner loop.
#pragma once

#include <cstdint>

namespace cnnfast {

// acc[k] += sum over rows r of x[r * c + k], k < c: column sums of a (rows, c) row-major block
// (channels_last squeeze). Same multi-versioning as dot_f32.
void add_rows_f32(float* acc, const float* x, int64_t rows, int64_t c);

}  // namespace cnnfast
