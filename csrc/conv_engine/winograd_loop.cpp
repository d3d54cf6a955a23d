// run_winograd (see winograd.h): tasks of (run of tiles, run of output-channel blocks). A task
// transforms its tiles' input once into V (kept in L2 while every block reads it), then per block
// makes the 16 microkernel calls M[p] = V[p] x U[p] (M = tiles, N = block width, K = Cin) and the
// output transform, which hands each tile's 2x2 pixels to the engine's epilogue.
#include <ATen/Parallel.h>
#include <ATen/native/CPUBlas.h>

#include <algorithm>
#include <atomic>

#include "common/cpu_levels.h"
#include "common/math.h"
#include "common/vec_cpu.h"
#include "conv_engine/packed_filter.h"
#include "conv_engine/tiling.h"
#include "conv_engine/winograd.h"

namespace cnnfast::engine {

namespace {

struct Plan {
  int64_t run = 0;     // tiles per task (the microkernel's M)
  int64_t runs = 0;    // task runs over all tiles
  int64_t chunks = 1;  // runs of output-channel blocks per tile run
};

// V of one run (16 x run x Cin floats) takes at most half of L2, so it stays there while the
// task's blocks read it (the other half holds a block's 16 filter matrices as they stream by).
// Runs are cut evenly, a multiple of the thread count of them. Where all tiles fit one run (batch
// 1 on 7x7 and 14x14 maps) the threads split the output-channel blocks instead, so that each
// reads only its share of the filter, which at batch 1 streams from memory.
Plan plan_tasks(const ConvGeometry& g, int64_t threads) {
  Plan p;
  const int64_t tiles = winograd_tiles(g);
  const int64_t blocks = ceil_div(padded_width(g.k), kBlockWidth);
  const int64_t max_run =
      std::max<int64_t>(1, l2_cache_bytes() / 2 / (kWinogradPoints * g.c * static_cast<int64_t>(sizeof(float))));
  if (tiles <= max_run && blocks >= threads && threads > 1) {
    p.run = tiles, p.runs = 1, p.chunks = threads;
    return p;
  }
  const int64_t tasks = threads * ceil_div(tiles, threads * max_run);
  p.run = ceil_div(tiles, tasks);
  p.runs = ceil_div(tiles, p.run);
  return p;
}

// V[p][t][c] (point stride ld_point floats, tile stride Cin) of tiles tile0 .. tile0 + nt - 1:
// B^T d B per 4x4 input patch d (zeros outside the map), W channels per vector (the level's width:
// the transforms are built per x86-64 level, see the end of this namespace).
// Returns false where a patch holds a NaN or an Inf (see run_winograd).
template <int W>
inline __attribute__((always_inline)) bool transform_input(const float* x, const ConvGeometry& g, int64_t tile0,
                                                           int64_t nt, int64_t ld_point, float* v) {
  using vf = vec::vf<W>;
  vf poison{};  // stays 0 while every value read is finite: 0 * Inf and 0 * NaN are NaN
  const int64_t cols = winograd_tile_cols(g), per_image = winograd_tile_rows(g) * cols;
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = tile0 + t, img = tile / per_image, ti = tile % per_image / cols, tj = tile % cols;
    const int64_t ih0 = kWinogradOut * ti - g.ph, iw0 = kWinogradOut * tj - g.pw;
    const float* src[16];
    for (int64_t i = 0; i < 4; ++i) {
      for (int64_t j = 0; j < 4; ++j) {
        const int64_t ih = ih0 + i, iw = iw0 + j;
        src[i * 4 + j] = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w ? x + ((img * g.h + ih) * g.w + iw) * g.c : nullptr;
      }
    }
    float* dst = v + t * g.c;
    for (int64_t c = 0; c < g.c; c += W) {
      vf d[16], r[16];
      for (int q = 0; q < 16; ++q) {
        d[q] = src[q] ? vec::load<vf>(src[q] + c) : vf{};
        poison += d[q] * 0.0f;
      }
      for (int j = 0; j < 4; ++j) {  // B^T d: rows
        r[j] = d[j] - d[8 + j];
        r[4 + j] = d[4 + j] + d[8 + j];
        r[8 + j] = d[8 + j] - d[4 + j];
        r[12 + j] = d[4 + j] - d[12 + j];
      }
      for (int i = 0; i < 4; ++i) {  // (B^T d) B: columns
        vec::store(dst + (i * 4 + 0) * ld_point + c, r[i * 4] - r[i * 4 + 2]);
        vec::store(dst + (i * 4 + 1) * ld_point + c, r[i * 4 + 1] + r[i * 4 + 2]);
        vec::store(dst + (i * 4 + 2) * ld_point + c, r[i * 4 + 2] - r[i * 4 + 1]);
        vec::store(dst + (i * 4 + 3) * ld_point + c, r[i * 4 + 1] - r[i * 4 + 3]);
      }
    }
  }
  for (int l = 0; l < W; ++l) {
    if (poison[l] != 0.0f) return false;
  }
  return true;
}

// The 2x2 output pixels of one tile, A^T m A over the tile's 16 products (point stride ld_point,
// nb channels), as y[pixel][channel] with pixels row-major.
template <int W>
inline __attribute__((always_inline)) void transform_output(const float* m, int64_t ld_point, int64_t nb, float* y) {
  using vf = vec::vf<W>;
  for (int64_t c = 0; c < nb; c += W) {
    vf p[16], t0[4], t1[4];
    for (int q = 0; q < 16; ++q) p[q] = vec::load<vf>(m + q * ld_point + c);
    for (int j = 0; j < 4; ++j) {  // A^T m: rows
      t0[j] = p[j] + p[4 + j] + p[8 + j];
      t1[j] = p[4 + j] - p[8 + j] - p[12 + j];
    }
    vec::store(y + 0 * nb + c, t0[0] + t0[1] + t0[2]);
    vec::store(y + 1 * nb + c, t0[1] - t0[2] - t0[3]);
    vec::store(y + 2 * nb + c, t1[0] + t1[1] + t1[2]);
    vec::store(y + 3 * nb + c, t1[1] - t1[2] - t1[3]);
  }
}

// The transforms built per x86-64 level on its width (common/cpu_levels.h). The 16-lane clones
// ran their vectors through the stack on AVX2 (see the commit).
struct Transforms {
  bool (*input)(const float*, const ConvGeometry&, int64_t, int64_t, int64_t, float*);
  void (*output)(const float*, int64_t, int64_t, float*);
};

#if CNNFAST_CPU_LEVELS
CNNFAST_TARGET_V4 bool input_v4(const float* x, const ConvGeometry& g, int64_t tile0, int64_t nt, int64_t ld, float* v) {
  return transform_input<16>(x, g, tile0, nt, ld, v);
}
CNNFAST_TARGET_V4 void output_v4(const float* m, int64_t ld, int64_t nb, float* y) { transform_output<16>(m, ld, nb, y); }
CNNFAST_TARGET_V3 bool input_v3(const float* x, const ConvGeometry& g, int64_t tile0, int64_t nt, int64_t ld, float* v) {
  return transform_input<8>(x, g, tile0, nt, ld, v);
}
CNNFAST_TARGET_V3 void output_v3(const float* m, int64_t ld, int64_t nb, float* y) { transform_output<8>(m, ld, nb, y); }
constexpr Transforms transforms_v4{input_v4, output_v4}, transforms_v3{input_v3, output_v3};
#endif
bool input_baseline(const float* x, const ConvGeometry& g, int64_t tile0, int64_t nt, int64_t ld, float* v) {
  return transform_input<4>(x, g, tile0, nt, ld, v);
}
void output_baseline(const float* m, int64_t ld, int64_t nb, float* y) { transform_output<4>(m, ld, nb, y); }
constexpr Transforms transforms_baseline{input_baseline, output_baseline};

}  // namespace

bool run_winograd(const EngineCall& call) {
  const ConvGeometry& g = call.geo;
  const Plan plan = plan_tasks(g, at::get_num_threads());
  const int64_t tiles = winograd_tiles(g), cols = winograd_tile_cols(g);
  const int64_t per_image = winograd_tile_rows(g) * cols;
  const int64_t blocks = ceil_div(padded_width(g.k), kBlockWidth), per_chunk = ceil_div(blocks, plan.chunks);
  std::atomic<bool> finite{true};
  const Transforms tf = CNNFAST_PICK_LEVEL(transforms);
  at::parallel_for(0, plan.runs * plan.chunks, 1, [&](int64_t t0, int64_t t1) {
    thread_local std::vector<float> v_buf, m_buf;
    float* v = scratch(v_buf, kWinogradPoints * plan.run * g.c);
    float* m = scratch(m_buf, kWinogradPoints * plan.run * kBlockWidth);
    alignas(64) float y[4 * kBlockWidth];
    int64_t transformed = -1;  // the run whose V is in v
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t run = task / plan.chunks, chunk = task % plan.chunks;
      const int64_t tile0 = run * plan.run, nt = std::min(plan.run, tiles - tile0);
      if (!finite.load(std::memory_order_relaxed)) return;
      if (run != transformed) {
        if (!tf.input(call.x, g, tile0, nt, plan.run * g.c, v)) {
          finite.store(false, std::memory_order_relaxed);
          return;
        }
        transformed = run;
      }
      const int64_t b1 = std::min(blocks, (chunk + 1) * per_chunk);
      for (int64_t blk = chunk * per_chunk; blk < b1; ++blk) {
        const int64_t c0 = blk * kBlockWidth, nb = block_width(g.k, c0), nc = std::min(nb, g.k - c0);
        const float* u = call.filter + c0 * kWinogradPoints * g.c;
        for (int64_t p = 0; p < kWinogradPoints; ++p) {
          at::native::cpublas::brgemm(nt, nb, g.c, g.c, nb, nb, /*add_C=*/false, v + p * plan.run * g.c,
                                      u + p * g.c * nb, m + p * plan.run * nb, /*is_vnni=*/false);
        }
        const TileDest dest = call.dest_at(c0);
        for (int64_t t = 0; t < nt; ++t) {
          tf.output(m + t * nb, plan.run * nb, nb, y);
          const int64_t tile = tile0 + t, img = tile / per_image;
          const int64_t oh = kWinogradOut * (tile % per_image / cols), ow = kWinogradOut * (tile % cols);
          const int64_t pixel = (img * g.ho + oh) * g.wo + ow, width = std::min(kWinogradOut, g.wo - ow);
          call.store_tile(y, nb, pixel, width, g.ho, g.wo, nc, call.bias + c0, dest, call.act);
          if (oh + 1 < g.ho) {
            call.store_tile(y + 2 * nb, nb, pixel + g.wo, width, g.ho, g.wo, nc, call.bias + c0, dest, call.act);
          }
        }
      }
    }
  });
  return finite.load();
}

}  // namespace cnnfast::engine
