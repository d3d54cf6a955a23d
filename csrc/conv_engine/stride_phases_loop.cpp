// run_stride_phases (see engine_call.h): a strided conv (ResNet's 3x3 stride-2 layers, Inception-v3's
// grid reductions) reads every sh-th input row and sw-th pixel, so neither a run of output pixels
// nor a run of output rows is one run of input pixels, and the other loops made one short call
// per output row and tap (M = 7-28 pixels) or gathered each pixel's taps. Cut into its stride
// phases (geometry.h: phase_h, phase_w), with the padding written in as zeros, each tap is a
// stride-1 shift of one phase: for a run of output rows, the pixels a tap reads are one run of
// phase_w-wide rows. So the loop is the column loop's, one call per tap over the whole run,
// computing phase_w - wo columns per row that are never stored (1/29 of ResNet-50's 56 -> 28
// layer, 1/8 of the 14 -> 7 one) and no padding test at all. Each task copies the phase rows its
// run reads (whole input rows, the padding as zeros) into its thread's buffer, which only grows,
// once for all its output-channel blocks: the thread that reads them wrote them, and there is no
// second parallel region. A shared copy made by both threads first took 1.1x this time.
#include <ATen/Parallel.h>
#include <ATen/native/CPUBlas.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "conv_engine/engine_call.h"
#include "conv_engine/row_blocks.h"

namespace cnnfast::engine {

namespace {

// Phase rows i0 .. i1 - 1 of every row phase of one image (phase_h rows of sw * phase_w pixels,
// C floats each, in the order of geometry.h, here only the run's rows: phase-major, then rows):
// the padded input's rows i * sh + a, zeros where they fall in the padding.
void copy_phase_rows(const ConvGeometry& geo, const float* image, int64_t i0, int64_t i1, float* dst) {
  const int64_t width = geo.sw * geo.phase_w(), c = geo.c;
  const int64_t left = std::min(geo.pw, width), inside = std::min(geo.w, width - left);
  for (int64_t a = 0; a < geo.sh; ++a) {
    for (int64_t i = i0; i < i1; ++i, dst += width * c) {
      const int64_t ih = i * geo.sh + a - geo.ph;
      if (ih < 0 || ih >= geo.h) {
        std::memset(dst, 0, sizeof(float) * width * c);
        continue;
      }
      std::memset(dst, 0, sizeof(float) * left * c);
      std::memcpy(dst + left * c, image + ih * geo.w * c, sizeof(float) * inside * c);
      std::memset(dst + (left + inside) * c, 0, sizeof(float) * (width - left - inside) * c);
    }
  }
}

// Which rows a thread's phase buffer holds: a task's blocks (consecutive tasks of one thread share
// their rows where the threads split the output channels) copy them once.
struct PhaseRows {
  uint64_t call = 0;
  int64_t r0 = -1, r1 = -1;
};

std::atomic<uint64_t> calls{0};

}  // namespace

void run_stride_phases(const EngineCall& call) {
  const ConvGeometry& geo = call.geo;
  const int64_t wq = geo.phase_w(), cg = geo.cg(), extra = geo.phase_h() - geo.ho;
  const int64_t row_floats = geo.sw * wq * geo.c;
  const uint64_t id = calls.fetch_add(1, std::memory_order_relaxed) + 1;
  const int64_t k_step = std::min(cg, call.tiling.k_chunk);
  // A task's rows are runs in one image or more, each held with its `extra` rows past it.
  const int64_t row_tile = call.tiling.row_tile, runs = std::min(row_tile, (row_tile - 1) / geo.ho + 2);
  const int64_t buf_floats = geo.sh * (row_tile + runs * extra) * row_floats;
  for_each_row_block(call, call.tiling.row_tile * wq * kBlockWidth, [&](float* cb, const RowBlock& blk) {
    thread_local std::vector<float> phase_buf;
    thread_local PhaseRows held;
    float* xp = scratch(phase_buf, buf_floats);
    const bool copy = held.call != id || held.r0 != blk.r0 || held.r1 != blk.r1;
    held = PhaseRows{id, blk.r0, blk.r1};
    const int64_t nb = blk.nb;
    for (int64_t r = blk.r0; r < blk.r1;) {  // runs of rows within one image, phases one after another
      const int64_t img = r / geo.ho, oh0 = r % geo.ho, oh1 = std::min(geo.ho, oh0 + (blk.r1 - r));
      const int64_t held_rows = oh1 - oh0 + extra;  // per phase
      if (copy) copy_phase_rows(geo, call.x + img * geo.h * geo.w * geo.c, oh0, oh1 + extra, xp);
      // The run's last row stops at wo: the columns past it are read by no stored pixel, and
      // the last phase row's would run past the buffer.
      const int64_t m = (oh1 - oh0 - 1) * wq + geo.wo;
      bool first = true;
      for (int64_t kh = 0; kh < geo.r; ++kh) {
        const int64_t a = kh * geo.dh % geo.sh, dy = kh * geo.dh / geo.sh;
        const float* row = xp + (a * held_rows + dy) * row_floats;
        for (int64_t kw = 0; kw < geo.s; ++kw) {
          const float* at = row + kw * geo.dw * geo.c;
          const float* bt = blk.b + (kh * geo.s + kw) * cg * nb;
          for (int64_t k0 = 0; k0 < cg; k0 += k_step) {
            at::native::cpublas::brgemm(m, nb, std::min(k_step, cg - k0), geo.sw * geo.c, nb, nb, /*add_C=*/!first,
                                        at + k0, bt + k0 * nb, cb, /*is_vnni=*/false);
            first = false;
          }
        }
      }
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        call.store_tile(cb + (oh - oh0) * wq * nb, nb, (img * geo.ho + oh) * geo.wo, geo.wo, geo.ho, geo.wo, blk.nc,
                        call.bias + blk.c0, call.dest_at(blk.c0), call.act);
      }
      xp += geo.sh * held_rows * row_floats;
      r += oh1 - oh0;
    }
  });
}

}  // namespace cnnfast::engine
