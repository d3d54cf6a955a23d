// The conv engine's epilogue: one accumulated tile (pixels x output channels) of a microkernel
// call, finished and stored while it is still in cache: bias, residual, activation, then the
// store into any channels_last destination (a whole output or a channel slice of a concat buffer).
#pragma once

#include <cstdint>

#include "cnnfast/activation.h"

namespace cnnfast {
class ChannelSums;
}

namespace cnnfast::engine {

// Where a tile goes: a destination with unit channel stride (image, row and pixel strides free,
// so a channel slice of a larger NHWC buffer is written in place), and the residual, if any, read
// through the same kind of view. Pointers are at the tile's first channel of image 0.
struct TileDest {
  float* out;
  int64_t out_image, out_row, out_pixel;  // strides in floats
  const float* res;                       // null: no residual
  int64_t res_image, res_row, res_pixel;
  // Optional: each stored value is also added, from its register, into the calling thread's
  // per-channel sums of its image (channel numbers from `channel`, out's first).
  ChannelSums* sums = nullptr;
  int64_t channel = 0;
};

// For pixels m0 .. m0 + rows - 1 of ho x wo output maps (numbered across images, row-major) and channels
// 0 .. nc - 1: dest = act(acc + bias + res), acc holding one row of `ld` floats per pixel and
// bias at least nc floats (read in whole vectors: padded to a multiple of 16).
using StoreTile = void (*)(const float* acc, int64_t ld, int64_t m0, int64_t rows, int64_t ho, int64_t wo,
                           int64_t nc, const float* bias, const TileDest& dest, Activation act);

// The build of that epilogue for the running x86 level (common/cpu_levels.h). Picked once per
// conv call (EngineCall::store_tile), not per tile: the pick reads an atomic and a static.
StoreTile store_tile_kernel();

}  // namespace cnnfast::engine
