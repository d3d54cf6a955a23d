// One output row of a channels_last max pool.
#pragma once

#include <cstdint>

namespace cnnfast {

// One output row of a channels_last max pool: out[xo * out_pixel + k] = max over input rows
// [h0, h1) of img (an (h, w, C) image) and the window's columns, for xo < ow and k < C (window: kw
// wide, stride sw, left padding pw; padding never wins). NaN wins, as in torch.max_pool2d.
// out_pixel is C for a dense output, a concat buffer's channel count for a slice of one; nothing
// past channel C of a pixel is written.
using MaxPoolRowF32 = void (*)(float* out, int64_t out_pixel, const float* img, int64_t h, int64_t w, int64_t c,
                               int64_t ow, int64_t h0, int64_t h1, int64_t kw, int64_t sw, int64_t pw);

// Its build for the running x86 level (common/cpu_levels.h): picked once per pool, not per row.
MaxPoolRowF32 max_pool_row_f32();

}  // namespace cnnfast
