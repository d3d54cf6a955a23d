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
  bool column_taps = false;  // R x 1 filters over whole rows: one call per tap and run of rows
  bool transposed = false;   // a 1 x S filter run as the R x 1 filter of the transposed map
  bool phases = false;       // a strided filter run on its stride phases (run_stride_phases)
  int64_t row_tile = 0;  // output rows per task in any of the three
  int64_t tasks() const { return m_tiles * n_chunks; }  // per group
};

// The data cache sizes of the running CPU in bytes (per core), read once at run time.
int64_t l1_cache_bytes();
int64_t l2_cache_bytes();
int64_t l3_cache_bytes();  // the last level, shared by the cores

// Whether the engine runs geo as a column filter (R x 1 at stride 1 over whole rows,
// run_column_taps) rather than by rows or gathered tiles.
bool column_taps_apply(const ConvGeometry& geo);

// Whether the engine runs geo on its stride phases (a strided filter, run_stride_phases).
bool stride_phases_apply(const ConvGeometry& geo);

// Whether geo is a row filter (1 x S at stride 1 over whole columns) that the engine runs as the
// column filter of the transposed map, and that transposed geometry.
bool row_filter_transposes(const ConvGeometry& geo);
ConvGeometry transposed(const ConvGeometry& geo);

// For a row filter (row_filter_transposes), the tiling of the transposed geometry, `transposed` set.
Tiling choose_tiling(const ConvGeometry& geo, int64_t threads);

}  // namespace cnnfast::engine
