// Column sums of channels_last rows: the squeeze's inner loop (se_squeeze, and the per-channel
// sums a conv kernel takes of the output block it has just stored, common/channel_sums.h).
#pragma once

#include <cstdint>

namespace cnnfast {

// acc[k] += sum over rows r of x[r * pitch + k], k < c: column sums of `rows` rows of c floats,
// pitch floats apart (a channels_last block of pixels, or a channel range of one). Built per
// x86-64 level (common/cpu_clones.h).
void add_rows_f32(float* acc, const float* x, int64_t rows, int64_t pitch, int64_t c);

}  // namespace cnnfast
