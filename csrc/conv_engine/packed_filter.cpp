// packed_filter (see packed_filter.h).
#include "conv_engine/packed_filter.h"

#include <ATen/ATen.h>

#include <vector>

#include "common/prepacked_weights.h"

namespace cnnfast::engine {

void append_blocks(std::vector<at::Tensor>& blocks, const at::Tensor& m, int64_t kg, int64_t dim) {
  for (int64_t c0 = 0; c0 < padded_width(kg); c0 += kBlockWidth) {
    blocks.push_back(m.slice(dim, c0, c0 + block_width(kg, c0)).contiguous().view(-1));
  }
}

at::Tensor packed_filter(const at::Tensor& weight, int64_t groups) {
  return prepacked_weight(weight, PackedLayout::Engine, groups, [groups](const at::Tensor& wt) {
    const int64_t k = wt.size(0), cg = wt.size(1), r = wt.size(2), s = wt.size(3), kg = k / groups;
    const int64_t depth = r * s * cg, kp = padded_width(kg);
    // (G, Kg, Cg, R, S) -> (G, R, S, Cg, Kg) -> (G, depth, Kg), zero-padded to whole vectors.
    at::Tensor m = wt.contiguous().view({groups, kg, cg, r, s}).permute({0, 3, 4, 2, 1}).reshape({groups, depth, kg});
    m = at::constant_pad_nd(m, {0, kp - kg});
    std::vector<at::Tensor> blocks;
    for (int64_t g = 0; g < groups; ++g) append_blocks(blocks, m[g], kg, 1);
    return at::cat(blocks);
  });
}

}  // namespace cnnfast::engine
