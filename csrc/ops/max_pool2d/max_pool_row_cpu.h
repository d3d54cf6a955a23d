// One output row of a channels_last max pool.
#pragma once

#include <cstdint>

namespace cnnfast {

// One output row of a channels_last max pool: out[xo, :] = max over input rows [h0, h1) of img
// (an (h, w, C) image) and the window's columns, for xo < ow (window: kw wide, stride sw, left
// padding pw; padding never wins). NaN wins, as in torch.max_pool2d.
void max_pool_row_f32(float* out, const float* img, int64_t h, int64_t w, int64_t c, int64_t ow, int64_t h0,
                      int64_t h1, int64_t kw, int64_t sw, int64_t pw);

}  // namespace cnnfast
