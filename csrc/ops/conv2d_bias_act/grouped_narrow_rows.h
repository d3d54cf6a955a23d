// What both builds of the narrow grouped loop (grouped_narrow_cpu.cpp for AVX-512,
// grouped_narrow_avx2_cpu.cpp for AVX2) share around their arithmetic: the staged input rows a task
// reads, a filter row's and a filter tap's multiply-adds on either vector width, and the walk over
// a block's filter rows. Each build includes it inside its target region,
// and everything here has internal linkage on purpose: each file's copy is compiled for that
// file's level (an inline function shared between the files would be one copy, of either level).
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "common/vec_cpu.h"
#include "ops/conv2d_bias_act/grouped_geometry.h"

namespace cnnfast {
namespace {

// The input rows, each staged once: a per-thread ring of the rows one output row spans (the next
// output row at stride 1 reuses all but one), plus one zero row for the taps in the padding.
class StagedRows {
 public:
  // Rows of g.row_w * g.cp floats; the thread's buffer grows to fit and forgets what it held (it is
  // shared with the thread's other calls).
  explicit StagedRows(const GroupedGeometry& g)
      : g_(g), span_((g.kh - 1) * g.dh + 1), row_(g.row_w * g.cp), mem_(buffer()), tags_(tags()), rows_(rows()) {
    if (static_cast<int64_t>(mem_.size()) < (span_ + 1) * row_) mem_.resize((span_ + 1) * row_);
    tags_.assign(span_, -1);
    rows_.resize(g.kh);
    std::memset(zeros(), 0, sizeof(float) * row_);
  }

  // The g.kh input rows output row i (image i / oh, row i % oh) reads, rows[t] for filter row t,
  // each staged the first time the task meets it: columns [pw, pw + w) hold the row, each pixel's
  // channels put in the loop's order by stage_pixel(source pixel, g.cp destination floats, zeros
  // past C), the padding columns zeros.
  template <class StagePixel>
  inline __attribute__((always_inline)) const float* const* rows_for(int64_t i, const float* x,
                                                                     StagePixel&& stage_pixel) {
    const int64_t img = i / g_.oh, oy = i % g_.oh;
    for (int64_t t = 0; t < g_.kh; ++t) {
      const int64_t iy = oy * g_.sh - g_.ph + t * g_.dh;
      if (iy < 0 || iy >= g_.h) {
        rows_[t] = zeros();
        continue;
      }
      const int64_t slot = iy % span_, key = img * g_.h + iy;
      float* dst = mem_.data() + slot * row_;
      if (tags_[slot] != key) {
        stage(x + key * g_.w * g_.c, dst, stage_pixel);
        tags_[slot] = key;
      }
      rows_[t] = dst;
    }
    return rows_.data();
  }

 private:
  static std::vector<float>& buffer() {
    thread_local std::vector<float> mem;
    return mem;
  }
  static std::vector<int64_t>& tags() {
    thread_local std::vector<int64_t> tags;
    return tags;
  }
  static std::vector<const float*>& rows() {
    thread_local std::vector<const float*> rows;
    return rows;
  }
  // Out of line: inlined into the loop, the staging cost the AVX2 build's blocks 4-5% (its
  // registers; RegNetY's 48 channels on 112x112, ResNeXt-50's 256 on 28x28).
  template <class StagePixel>
  __attribute__((noinline)) void stage(const float* src, float* dst, StagePixel& stage_pixel) {
    std::memset(dst, 0, sizeof(float) * g_.pw * g_.cp);
    std::memset(dst + (g_.pw + g_.w) * g_.cp, 0, sizeof(float) * (g_.row_w - g_.pw - g_.w) * g_.cp);
    for (int64_t ix = 0; ix < g_.w; ++ix) stage_pixel(src + ix * g_.c, dst + (g_.pw + ix) * g_.cp);
  }
  float* zeros() { return mem_.data() + span_ * row_; }

  const GroupedGeometry& g_;
  const int64_t span_, row_;
  std::vector<float>& mem_;
  std::vector<int64_t>& tags_;
  std::vector<const float*>& rows_;
};

// One filter row of 3 taps at stride S (dilation 1) for NP output pixels and H sets of V's lanes
// (H = 2: both 8-lane halves of the 16, each broadcast feeding both): each input column's
// broadcast for slot j feeds every tap that reads it. `in`: column 0 of the padded interleaved row
// at the vector's channels (pitch floats between columns); `wt`: the row's packed weights, (tap,
// slot, 16 lanes), at set 0's lanes, set h's `set_pitch * h` floats on. Bcast::at<G>(p): the G
// floats at p repeated over V's lanes.
template <int G, int NP, int S, class Bcast, int H, class V>
inline __attribute__((always_inline)) void narrow_row(V (&v)[H][NP], const float* in, const float* wt, int64_t pitch,
                                                      int64_t set_pitch) {
  constexpr int gw = 16 / G, kCols = S * (NP - 1) + 3;
#pragma GCC unroll 1
  for (int j = 0; j < gw; ++j) {
    V wk[H][3];
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h) {
#pragma GCC unroll 3
      for (int k = 0; k < 3; ++k) wk[h][k] = vec::load<V>(wt + (k * gw + j) * 16 + h * set_pitch);
    }
#pragma GCC unroll 29
    for (int q = 0; q < kCols; ++q) {
      const V b = Bcast::template at<G>(in + q * pitch + j * G);
#pragma GCC unroll 3
      for (int k = 0; k < 3; ++k) {
        const int d = q - k;  // = S * p for the pixel p whose tap k reads column q
        if (d >= 0 && d % S == 0 && d / S < NP) {
#pragma GCC unroll 2
          for (int h = 0; h < H; ++h) v[h][d / S] += b * wk[h][k];
        }
      }
    }
  }
}

// One filter tap for NP output pixels (px_pitch floats apart in the padded row) and H sets of
// lanes, as narrow_row: any geometry.
template <int G, int NP, class Bcast, int H, class V>
inline __attribute__((always_inline)) void narrow_tap(V (&v)[H][NP], const float* in, const float* wt, int64_t px_pitch,
                                                      int64_t set_pitch) {
  constexpr int gw = 16 / G;
#pragma GCC unroll 1
  for (int j = 0; j < gw; ++j) {
#pragma GCC unroll 2
    for (int h = 0; h < H; ++h) {
      const V wv = vec::load<V>(wt + j * 16 + h * set_pitch);
#pragma GCC unroll 14
      for (int p = 0; p < NP; ++p) v[h][p] += Bcast::template at<G>(in + p * px_pitch + j * G) * wv;
    }
  }
}

// Every filter row of a block of output pixels starting at column ox, for the 16-lane vector at
// channel c0 (wvec: its packed weights, (taps, gw, 16)): a 3-wide row at stride 1 or 2 (every such
// conv of RegNet and ResNeXt) goes through row(in, wt, std::integral_constant<int, S>), which
// shares each input column's broadcast between the taps that read it; any other geometry tap by
// tap through tap(in, wt, pixel pitch). `in` is the row's first column the block reads.
template <class Row, class Tap>
inline __attribute__((always_inline)) void for_each_filter_row(const GroupedGeometry& g, const float* const* rows,
                                                               int64_t ox, int64_t c0, const float* wvec, Row&& row,
                                                               Tap&& tap) {
  const bool row_form = g.kw == 3 && g.dw == 1 && (g.sw == 1 || g.sw == 2);
  for (int64_t t = 0; t < g.kh; ++t) {
    const float* in = rows[t] + ox * g.sw * g.cp + c0;
    const float* wt = wvec + t * g.kw * g.gw * 16;
    if (row_form) {
      if (g.sw == 1) {
        row(in, wt, std::integral_constant<int, 1>{});
      } else {
        row(in, wt, std::integral_constant<int, 2>{});
      }
      continue;
    }
    for (int64_t k = 0; k < g.kw; ++k) tap(in + k * g.dw * g.cp, wt + k * g.gw * 16, g.sw * g.cp);
  }
}

}  // namespace
}  // namespace cnnfast
