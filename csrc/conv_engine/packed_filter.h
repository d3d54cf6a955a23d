// The conv engine's filter layout: per group, blocks of output channels, each block a row-major
// (taps x Cg, block width) matrix, the B operand of one microkernel call.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "conv_engine/geometry.h"
#include "common/math.h"

namespace cnnfast::engine {

constexpr int64_t kLanes = 16;       // floats per 512-bit vector: block widths are multiples of it
constexpr int64_t kBlockWidth = 64;  // output channels per block: 4 vectors, the microkernel's N

// Output channels of a group rounded up to whole vectors (the packed filter's padded width).
constexpr int64_t padded_width(int64_t kg) { return round_up(kg, kLanes); }

// Width of the output-channel block starting at c0 (the last one may be narrower, padded to vectors).
constexpr int64_t block_width(int64_t kg, int64_t c0) {
  return padded_width(kg) - c0 < kBlockWidth ? padded_width(kg) - c0 : kBlockWidth;
}

// Offset in floats of block c0 of group g: full blocks before it, each depth x kBlockWidth.
constexpr int64_t block_offset(const ConvGeometry& geo, int64_t g, int64_t c0) {
  return g * geo.depth() * padded_width(geo.kg()) + c0 * geo.depth();
}

// Appends to `blocks` the output-channel blocks of `m`, whose dimension `dim` holds kg channels
// zero-padded to padded_width(kg): each block (width block_width(kg, c0)) made contiguous and
// flattened, in c0 order. Shared by every filter the microkernel reads as its B operand.
void append_blocks(std::vector<at::Tensor>& blocks, const at::Tensor& m, int64_t kg, int64_t dim);

// The packed copy of `weight` (K, Cg, R, S), built once per weight tensor and cached (see
// common/prepacked_weights.h): row (kh * S + kw) * Cg + ci of block c0 holds the filter values
// of output channels c0.. for that tap and input channel; channels past Kg are zeros.
at::Tensor packed_filter(const at::Tensor& weight, int64_t groups);

}  // namespace cnnfast::engine
