// The task walk shared by the engine's loops over runs of output rows (row_taps_loop.cpp,
// stride_phases_loop.cpp): tasks of a tiling's row_tile output rows x a run of output-channel
// blocks (x groups), numbered chunk fastest, then rows, then group, as choose_tiling balances them.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "conv_engine/engine_call.h"
#include "conv_engine/packed_filter.h"
#include "common/math.h"

namespace cnnfast::engine {

// One output-channel block of one task, as the row loops see it.
struct RowBlock {
  int64_t g, r0, r1;   // group; the task's output rows [r0, r1) of the batch (image-major)
  int64_t c0, nb, nc;  // the block's first channel in the group, padded and real widths
  const float* b;      // its packed filter
};

// The row loops' shared walk: tasks of row_tile output rows x a run of output-channel blocks (x
// groups), handed out by at::parallel_for; body(cb, block) per block of each task, cb a per-thread
// accumulator of cb_floats that only grows.
template <class Body>
void for_each_row_block(const EngineCall& call, int64_t cb_floats, const Body& body) {
  const ConvGeometry& geo = call.geo;
  const Tiling& t = call.tiling;
  const int64_t kg = geo.kg(), rows = geo.n * geo.ho;
  const int64_t row_tiles = ceil_div(rows, t.row_tile);
  const int64_t per_chunk = ceil_div(t.blocks, t.n_chunks);
  const int64_t tasks = geo.groups * row_tiles * t.n_chunks;
  at::parallel_for(0, tasks, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> c_buf;
    float* cb = scratch(c_buf, cb_floats);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t chunk = task % t.n_chunks, rt = task / t.n_chunks % row_tiles;
      const int64_t g = task / (t.n_chunks * row_tiles);
      const int64_t r0 = rt * t.row_tile, r1 = std::min(rows, r0 + t.row_tile);
      const int64_t b0 = chunk * per_chunk, b1 = std::min(t.blocks, b0 + per_chunk);
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t c0 = blk * kBlockWidth, nb = block_width(kg, c0);
        body(cb, RowBlock{g, r0, r1, c0, nb, std::min(nb, kg - c0), call.filter + block_offset(geo, g, c0)});
      }
    }
  });
}

}  // namespace cnnfast::engine
