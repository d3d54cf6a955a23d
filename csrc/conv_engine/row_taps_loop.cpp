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
#include <utility>
#include <vector>

#include "conv_engine/engine_call.h"
#include "conv_engine/row_blocks.h"
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
  const int64_t kg = geo.kg(), kp = padded_width(kg), cg = geo.cg();
  const int64_t k_step = std::min(cg, call.tiling.k_chunk);
  for_each_row_block(call, geo.wo * kBlockWidth, [&](float* cb, const RowBlock& blk) {
    const int64_t g = blk.g, nb = blk.nb;
    for (int64_t r = blk.r0; r < blk.r1; ++r) {  // the block's filter stays in L2 across the rows
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
          const float* bt = blk.b + (kh * geo.s + kw) * cg * nb;
          for (int64_t k0 = 0; k0 < cg; k0 += k_step) {
            at::native::cpublas::brgemm(hi - lo, nb, std::min(k_step, cg - k0), geo.sw * geo.c, nb, nb,
                                        /*add_C=*/true, a + k0, bt + k0 * nb, cb + lo * nb, /*is_vnni=*/false);
          }
        }
      }
      call.store_tile(cb, nb, r * geo.wo, geo.wo, geo.ho, geo.wo, blk.nc, call.bias + g * kp + blk.c0,
                      call.dest_at(g * kg + blk.c0), call.act);
    }
  });
}

// run_column_taps: an R x 1 filter at stride 1 without column padding reads, for a run of output
// rows oh0..oh1 of one image, input rows oh0 - ph + kh * dh onwards for tap kh: whole rows, one
// run of pixels C floats apart. So one call per tap covers the run (M = its rows x W) where the
// row-taps loop made one per row and tap (M = W: 8 or 17 pixels on Inception-v3's maps) and the
// gather loop copied R taps per pixel. A tap whose rows fall partly in the padding covers only
// the output rows it reads inside the map. Tasks as in run_row_taps (for_each_row_block); a
// task's rows that cross an image boundary are two runs.
void run_column_taps(const EngineCall& call) {
  const ConvGeometry& geo = call.geo;
  const int64_t cg = geo.cg(), k_step = std::min(cg, call.tiling.k_chunk);
  for_each_row_block(call, call.tiling.row_tile * geo.wo * kBlockWidth, [&](float* cb, const RowBlock& blk) {
    const int64_t nb = blk.nb;
    for (int64_t r = blk.r0; r < blk.r1;) {
      const int64_t img = r / geo.ho, oh0 = r % geo.ho, oh1 = std::min(geo.ho, oh0 + (blk.r1 - r));
      std::memset(cb, 0, sizeof(float) * (oh1 - oh0) * geo.wo * nb);
      for (int64_t kh = 0; kh < geo.r; ++kh) {
        const int64_t shift = kh * geo.dh - geo.ph;  // input row = output row + shift
        const int64_t lo = std::max(oh0, -shift), hi = std::min(oh1, geo.h - shift);
        if (lo >= hi) continue;
        const float* a = call.x + ((img * geo.h + lo + shift) * geo.w) * geo.c;
        const float* bt = blk.b + kh * cg * nb;
        for (int64_t k0 = 0; k0 < cg; k0 += k_step) {
          at::native::cpublas::brgemm((hi - lo) * geo.wo, nb, std::min(k_step, cg - k0), geo.c, nb, nb,
                                      /*add_C=*/true, a + k0, bt + k0 * nb, cb + (lo - oh0) * geo.wo * nb,
                                      /*is_vnni=*/false);
        }
      }
      call.store_tile(cb, nb, (img * geo.ho + oh0) * geo.wo, (oh1 - oh0) * geo.wo, geo.ho, geo.wo, blk.nc,
                      call.bias + blk.c0, call.dest_at(blk.c0), call.act);
      r += oh1 - oh0;
    }
  });
}

// run_row_filter: Inception-v3's 1x7 and 1x3 layers read along rows, where a run of output pixels
// is not one run of input pixels for every tap (a row's last pixels would read the next row's
// first). In the transposed map (images of W rows of H pixels) they are column filters, so the
// input is copied transposed once per call (the calling thread's buffer, which only grows; each
// thread copies whole columns) and the column loop stores through the destination's strides with
// rows and pixels swapped, so the output lands untransposed.
void run_row_filter(const EngineCall& call) {
  const ConvGeometry& geo = call.geo;
  thread_local std::vector<float> xt_buf;  // the calling thread's; workers reach it through tc.x
  float* xt = scratch(xt_buf, geo.n * geo.h * geo.w * geo.c);
  const int64_t pixel_bytes = geo.c * static_cast<int64_t>(sizeof(float));
  at::parallel_for(0, geo.n * geo.w, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {  // column `col` of image `img` becomes row i of xt
      const int64_t img = i / geo.w, col = i % geo.w;
      const float* src = call.x + (img * geo.h * geo.w + col) * geo.c;
      float* dst = xt + i * geo.h * geo.c;
      for (int64_t row = 0; row < geo.h; ++row) std::memcpy(dst + row * geo.c, src + row * geo.w * geo.c, pixel_bytes);
    }
  });
  EngineCall tc = call;
  tc.geo = transposed(geo);
  tc.x = xt;
  std::swap(tc.dest.out_row, tc.dest.out_pixel);
  std::swap(tc.dest.res_row, tc.dest.res_pixel);
  run_column_taps(tc);
}

}  // namespace cnnfast::engine
