// Winograd F(2x2, 3x3) on the conv engine's microkernel: a 3x3 stride-1 convolution computed as
// 16 independent GEMMs, one per position of a 4x4 transformed input tile, for 2x2 output pixels
// per tile: 16 multiply-adds per (tile, input channel, output channel) where the direct form
// needs 4 x 9 = 36 (2.25x fewer). The transforms (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2015) use only 0, +-1 and 1/2, so fp32 rounding stays close to
// the direct sum (tests/ops/test_conv_winograd.py measures it against float64).
//
// Layouts (all fp32):
//   input      dense NHWC; tiles of 2x2 output pixels, numbered across images row-major
//   filter     U = G g G^T per (output, input channel), built once per weight and cached: per
//              block of <= 64 output channels, 16 row-major (Cin x block width) matrices, the B
//              operands of the 16 microkernel calls; output channels past K are zeros
//   per task   V (16 x tiles x Cin) of transformed input, M (16 x tiles x block width) of products,
//              in per-thread scratch that only grows
//   output     the engine's epilogue (tile_store.h): bias, residual, activation, any channel slice
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "conv_engine/engine_call.h"
#include "conv_engine/geometry.h"

namespace cnnfast::engine {

constexpr int64_t kWinogradPoints = 16;  // 4x4 transformed tile
constexpr int64_t kWinogradOut = 2;      // 2x2 output pixels per tile

// The geometry the transforms are written for: 3x3, stride 1, no dilation, one group, padding
// <= 1 (a 4x4 input tile then always overlaps the map), input channels whole vectors.
constexpr bool winograd_can_run(const ConvGeometry& g) {
  return g.groups == 1 && g.r == 3 && g.s == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 &&
         g.ph <= 1 && g.pw <= 1 && g.c % 16 == 0 && g.ho > 0 && g.wo > 0;
}

// Tiles per image and in all.
constexpr int64_t winograd_tile_rows(const ConvGeometry& g) { return (g.ho + 1) / 2; }
constexpr int64_t winograd_tile_cols(const ConvGeometry& g) { return (g.wo + 1) / 2; }
constexpr int64_t winograd_tiles(const ConvGeometry& g) { return g.n * winograd_tile_rows(g) * winograd_tile_cols(g); }

// The transformed filter of `weight` (K, C, 3, 3) in the layout above, cached with the weight;
// an empty tensor where the weight holds a NaN or an Inf (see run_winograd).
at::Tensor winograd_filter(const at::Tensor& weight);

// The loop: tasks of (tile run, output-channel block run), each transforming its tiles' input
// once, then per block 16 microkernel calls and the output transform into the epilogue.
// `call.filter` holds winograd_filter's layout.
//
// NaN and Inf: the transforms add and subtract whole 4x4 patches, so a non-finite input would
// reach all four outputs of a tile (and Inf - Inf make NaN where eager has Inf), not only the
// outputs whose 3x3 window holds it as in eager PyTorch. The input transform checks every value
// it reads (one multiply-add per vector); finding one, the loop stops and returns false, and the
// caller recomputes the whole output on the direct engine, which has eager's semantics. Finite
// maps, the only ones a working network makes, pay nothing else. A residual that shares memory
// with the output cannot be recomputed that way: the caller never takes this form for it.
bool run_winograd(const EngineCall& call);

}  // namespace cnnfast::engine
