// Column sums of channels_last rows (see row_sums_cpu.h).
#include "common/row_sums_cpu.h"

#include "common/cpu_clones.h"

namespace cnnfast {

CNNFAST_CPU_CLONES void add_rows_f32(float* __restrict__ acc, const float* __restrict__ x, int64_t rows,
                                     int64_t pitch, int64_t c) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {  // four rows per pass over acc: a quarter of the acc traffic
    const float* x0 = x + r * pitch;
    for (int64_t k = 0; k < c; ++k) acc[k] += (x0[k] + x0[pitch + k]) + (x0[2 * pitch + k] + x0[3 * pitch + k]);
  }
  for (; r < rows; ++r) {
    const float* x0 = x + r * pitch;
    for (int64_t k = 0; k < c; ++k) acc[k] += x0[k];
  }
}

}  // namespace cnnfast
