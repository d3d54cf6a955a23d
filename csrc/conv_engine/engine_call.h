// One conv engine call as its loops see it: geometry, tiling and raw pointers, set up once by
// conv_engine_cpu (conv_engine_cpu.cpp) and shared by the direct loop forms (gather_loop.cpp,
// row_taps_loop.cpp: by rows, and by runs of rows for column filters; stride_phases_loop.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "cnnfast/activation.h"
#include "conv_engine/geometry.h"
#include "conv_engine/tile_store.h"
#include "conv_engine/tiling.h"

namespace cnnfast::engine {

struct EngineCall {
  ConvGeometry geo;
  Tiling tiling;
  const float* x;       // dense NHWC input
  const float* filter;  // packed_filter's layout
  const float* bias;    // groups x padded_width(Kg) floats, zeros past Kg (and without a bias)
  TileDest dest;        // at channel 0 of image 0
  Activation act;
  StoreTile store_tile = store_tile_kernel();  // the epilogue's build for this CPU level

  // The destination of output channel `channel` onwards.
  TileDest dest_at(int64_t channel) const {
    TileDest d = dest;
    d.out += channel;
    if (d.res) d.res += channel;
    d.channel += channel;
    return d;
  }
};

// Tiles of output pixels (across images) gathered im2col-style into per-thread buffers, one
// microkernel call per output-channel block and K chunk (any geometry).
void run_gather_tiles(const EngineCall& call);

// Output rows, one microkernel call per filter tap reading the input row in place (no copy):
// for maps wide enough that a row is a long M.
void run_row_taps(const EngineCall& call);

// Column filters (R x 1 at stride 1, no column padding) over runs of whole output rows, one
// microkernel call per tap and run, the input read in place.
void run_column_taps(const EngineCall& call);

// Row filters (1 x S at stride 1, no row padding): the map transposed, then run_column_taps on it
// with the destination's row and pixel strides swapped. call.tiling: the transposed geometry's.
void run_row_filter(const EngineCall& call);

// Strided filters (stride > 1): the input cut into its stride phases, then one microkernel call
// per tap over runs of whole phase rows, as run_column_taps.
void run_stride_phases(const EngineCall& call);

// A per-thread buffer that only grows: the hot path allocates nothing after warm-up.
inline float* scratch(std::vector<float>& buf, int64_t floats) {
  if (static_cast<int64_t>(buf.size()) < floats) buf.resize(floats);
  return buf.data();
}

}  // namespace cnnfast::engine
