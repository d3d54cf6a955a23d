// run_gather_tiles (see engine_call.h): each task owns a tile of output pixels (of one or more
// images) of one group and a run of output-channel blocks. It gathers the tile's input patches
// once into a per-thread buffer (im2col of just this tile: M x taps*Cg floats; a 1x1 stride-1
// conv reads the input rows in place), then per block makes one microkernel call per K chunk
// into a per-thread accumulator tile and stores it through the epilogue while it is in cache.
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

// Rows m0 .. m0 + rows - 1 of the tile's A matrix (pixels numbered across images, row-major within
// each): for each output pixel, its taps' input channels of group g in (kh, kw, ci) order, zeros
// where a tap falls in the padding. Tiles span images, so small maps still give the microkernel
// long M at batch > 1.
void gather_tile(const ConvGeometry& geo, const float* x, int64_t g, int64_t m0, int64_t rows, float* a) {
  const int64_t cg = geo.cg(), depth = geo.depth(), image = geo.h * geo.w * geo.c;
  // With one group and no dilation a filter row's valid taps are adjacent pixels: one copy.
  const bool whole_rows = geo.groups == 1 && geo.dw == 1;
  int64_t img = m0 / geo.pixels(), oh = m0 % geo.pixels() / geo.wo, ow = m0 % geo.wo;
  for (int64_t i = 0; i < rows; ++i) {
    float* dst = a + i * depth;
    const float* in = x + img * image + g * cg;
    const int64_t ih0 = oh * geo.sh - geo.ph, iw0 = ow * geo.sw - geo.pw;
    for (int64_t kh = 0; kh < geo.r; ++kh, dst += geo.s * cg) {
      const int64_t ih = ih0 + kh * geo.dh;
      if (ih < 0 || ih >= geo.h) {
        std::memset(dst, 0, sizeof(float) * geo.s * cg);
        continue;
      }
      const float* row = in + ih * geo.w * geo.c;
      if (whole_rows) {
        const int64_t lo = std::clamp<int64_t>(-iw0, 0, geo.s), hi = std::clamp<int64_t>(geo.w - iw0, lo, geo.s);
        if (lo > 0) std::memset(dst, 0, sizeof(float) * lo * cg);
        std::memcpy(dst + lo * cg, row + (iw0 + lo) * geo.c, sizeof(float) * (hi - lo) * cg);
        if (hi < geo.s) std::memset(dst + hi * cg, 0, sizeof(float) * (geo.s - hi) * cg);
        continue;
      }
      for (int64_t kw = 0; kw < geo.s; ++kw) {
        const int64_t iw = iw0 + kw * geo.dw;
        if (iw < 0 || iw >= geo.w) {
          std::memset(dst + kw * cg, 0, sizeof(float) * cg);
        } else {
          std::memcpy(dst + kw * cg, row + iw * geo.c, sizeof(float) * cg);
        }
      }
    }
    if (++ow == geo.wo) {
      ow = 0;
      if (++oh == geo.ho) {
        oh = 0;
        ++img;
      }
    }
  }
}

}  // namespace

void run_gather_tiles(const EngineCall& call) {
  const ConvGeometry& geo = call.geo;
  const Tiling& t = call.tiling;
  const int64_t kg = geo.kg(), kp = padded_width(kg), depth = geo.depth();
  const int64_t per_chunk = ceil_div(t.blocks, t.n_chunks);
  const int64_t tasks = geo.groups * t.tasks(), total = geo.n * geo.pixels();
  at::parallel_for(0, tasks, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> a_buf, c_buf;
    float* cb = scratch(c_buf, t.m_tile * kBlockWidth);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t chunk = task % t.n_chunks, mt = task / t.n_chunks % t.m_tiles, g = task / t.tasks();
      const int64_t m0 = mt * t.m_tile, rows = std::min(t.m_tile, total - m0);
      const int64_t b0 = chunk * per_chunk, b1 = std::min(t.blocks, b0 + per_chunk);
      if (rows <= 0 || b0 >= b1) continue;
      const float* a;
      int64_t lda;
      if (geo.reads_input_rows()) {  // dense NHWC: pixel m of any image is row m of the input
        a = call.x + m0 * geo.c + g * geo.cg();
        lda = geo.c;
      } else {
        float* ab = scratch(a_buf, t.m_tile * depth);
        gather_tile(geo, call.x, g, m0, rows, ab);
        a = ab;
        lda = depth;
      }
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t c0 = blk * kBlockWidth, nb = block_width(kg, c0), nc = std::min(nb, kg - c0);
        const float* b = call.filter + block_offset(geo, g, c0);
        for (int64_t k0 = 0; k0 < depth; k0 += t.k_chunk) {
          const int64_t kc = std::min(t.k_chunk, depth - k0);
          at::native::cpublas::brgemm(rows, nb, kc, lda, nb, nb, /*add_C=*/k0 > 0, a + k0, b + k0 * nb, cb,
                                      /*is_vnni=*/false);
        }
        const int64_t ch = g * kg + c0;
        call.store_tile(cb, nb, m0, rows, geo.ho, geo.wo, nc, call.bias + g * kp + c0, call.dest_at(ch), call.act);
      }
    }
  });
}

}  // namespace cnnfast::engine
