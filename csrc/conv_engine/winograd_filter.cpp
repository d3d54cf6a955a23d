// winograd_filter (see winograd.h).
#include <ATen/ATen.h>

#include <vector>

#include "common/prepacked_weights.h"
#include "conv_engine/packed_filter.h"
#include "conv_engine/winograd.h"

namespace cnnfast::engine {

at::Tensor winograd_filter(const at::Tensor& weight) {
  return prepacked_weight(weight, PackedLayout::Winograd, 0, [](const at::Tensor& wt) {
    if (!at::isfinite(wt).all().item<bool>()) return at::Tensor();  // eager's NaN/Inf: the direct engine
    const int64_t k = wt.size(0), c = wt.size(1), kp = padded_width(k);
    // U = G g G^T in float64, rounded once to fp32 (G's 1/2 entries are exact in binary).
    const at::Tensor g_mat = at::tensor({1.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0.0, 0.0, 1.0},
                                        at::TensorOptions().dtype(at::kDouble)).view({4, 3});
    const at::Tensor u = at::matmul(at::matmul(g_mat, wt.to(at::kDouble)), g_mat.t());  // (K, C, 4, 4)
    // (K, C, 4, 4) -> (4, 4, C, K) -> (16, C, K), zero-padded to whole vectors of output channels.
    at::Tensor m = at::constant_pad_nd(u.permute({2, 3, 1, 0}).reshape({kWinogradPoints, c, k}), {0, kp - k});
    m = m.to(at::kFloat);
    std::vector<at::Tensor> blocks;
    append_blocks(blocks, m, k, 2);
    return at::cat(blocks);
  });
}

}  // namespace cnnfast::engine
