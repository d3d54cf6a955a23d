// How the conv engine cuts one convolution into tasks: tiles of output pixels (the GEMM's M)
// sized to the running CPU's L2, and blocks of output channels (N), chosen per layer shape and
// thread count.
#pragma once

#include <cstdint>

#include "conv_engine/geometry.h"

namespace cnnfast::engine {

struct Tiling {
  int64_t m_tile = 0;    // output pixels per tile (the microkernel's M)
  int64_t m_tiles = 0;   // tiles over all images' output pixels
  int64_t blocks = 0;    // output-channel blocks per group
  int64_t n_chunks = 1;  // tasks each tile's blocks are split over (small maps: fill the threads)
  int64_t k_chunk = 0;   // reduction rows per microkernel call (the filter block's rows in L2)
  bool row_taps = false; // one call per output row and tap, input read in place (run_row_taps)
  int64_t row_tile = 0;  // output rows per task there
  int64_t tasks() const { return m_tiles * n_chunks; }  // per group
};

// The data cache sizes of the running CPU in bytes (per core), read once at run time.
int64_t l1_cache_bytes();
int64_t l2_cache_bytes();
int64_t l3_cache_bytes();  // the last level, shared by the cores

Tiling choose_tiling(const ConvGeometry& geo, int64_t threads);

}  // namespace cnnfast::engine
