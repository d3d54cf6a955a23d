// run_row_taps (see engine_call.h): each task owns a few output rows of the batch and a run of
// output-channel blocks; per row and block it makes one microkernel call per filter tap whose
// A operand is the input row itself (pixels sw * C floats apart, the taps that fall in the
// padding trimmed from M), accumulating into a one-row tile that the epilogue then stores. No
// input is copied: the gather loop's im2col costs a copy of taps x Cg floats per output pixel,
// which made it 5-30% slower than oneDNN on large-map 3x3 layers.
#include <ATen/Parallel.h>
#include <ATen/native/CPUBlas.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_engine/engine_call.h"
#include "conv_engine/packed_filter.h"
#include "common/math.h"

namespace cnnfast::engine {

namespace {

// Output columns [lo, hi) whose tap kw reads inside the input row.
void valid_columns(const ConvGeometry& geo, int64_t kw, int64_t& lo, int64_t& hi) {
  const int64_t first = geo.pw - kw * geo.dw;              // iw = ow * sw - first >= 0
  const int64_t last = geo.w - 1 + geo.pw - kw * geo.dw;   // iw <= w - 1
  lo = first <= 0 ? 0 : ceil_div(first, geo.sw);
  hi = last < 0 ? 0 : std::min(geo.wo, last / geo.sw + 1);
}

}  // namespace

void run_row_taps(const EngineCall& call) {
  const ConvGeometry& geo = call.geo;
  const Tiling& t = call.tiling;
  const int64_t kg = geo.kg(), kp = padded_width(kg), cg = geo.cg(), rows = geo.n * geo.ho;
  const int64_t row_tiles = ceil_div(rows, t.row_tile);
  const int64_t per_chunk = ceil_div(t.blocks, t.n_chunks);
  const int64_t k_step = std::min(cg, t.k_chunk);
  const int64_t tasks = geo.groups * row_tiles * t.n_chunks;
  at::parallel_for(0, tasks, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> c_buf;
    float* cb = scratch(c_buf, geo.wo * kBlockWidth);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t chunk = task % t.n_chunks, rt = task / t.n_chunks % row_tiles;
      const int64_t g = task / (t.n_chunks * row_tiles);
      const int64_t r0 = rt * t.row_tile, r1 = std::min(rows, r0 + t.row_tile);
      const int64_t b0 = chunk * per_chunk, b1 = std::min(t.blocks, b0 + per_chunk);
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t c0 = blk * kBlockWidth, nb = block_width(kg, c0), nc = std::min(nb, kg - c0);
        const float* b = call.filter + block_offset(geo, g, c0);
        for (int64_t r = r0; r < r1; ++r) {  // the block's filter stays in L2 across the rows
          const int64_t img = r / geo.ho, oh = r % geo.ho;
          std::memset(cb, 0, sizeof(float) * geo.wo * nb);
          for (int64_t kh = 0; kh < geo.r; ++kh) {
            const int64_t ih = oh * geo.sh - geo.ph + kh * geo.dh;
            if (ih < 0 || ih >= geo.h) continue;
            const float* row = call.x + ((img * geo.h + ih) * geo.w) * geo.c + g * cg;
            for (int64_t kw = 0; kw < geo.s; ++kw) {
              int64_t lo, hi;
              valid_columns(geo, kw, lo, hi);
              if (lo >= hi) continue;
              const float* a = row + (lo * geo.sw - geo.pw + kw * geo.dw) * geo.c;
              const float* bt = b + (kh * geo.s + kw) * cg * nb;
              for (int64_t k0 = 0; k0 < cg; k0 += k_step) {
                at::native::cpublas::brgemm(hi - lo, nb, std::min(k_step, cg - k0), geo.sw * geo.c, nb, nb,
                                            /*add_C=*/true, a + k0, bt + k0 * nb, cb + lo * nb, /*is_vnni=*/false);
              }
            }
          }
          store_tile(cb, nb, r * geo.wo, geo.wo, geo.ho, geo.wo, nc, call.bias + g * kp + c0,
                     call.dest_at(g * kg + c0), call.act);
        }
      }
    }
  });
}

}  // namespace cnnfast::engine
