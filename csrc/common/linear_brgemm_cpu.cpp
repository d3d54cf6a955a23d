// linear_brgemm_f32 (see linear_brgemm_cpu.h).
#include "common/linear_brgemm_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/native/CPUBlas.h>

#include <algorithm>
#include <vector>

#include "common/prepacked_weights.h"
#include "conv_engine/conv_engine_cpu.h"
#include "conv_engine/engine_call.h"
#include "conv_engine/packed_filter.h"
#include "conv_engine/tiling.h"

namespace cnnfast {

bool linear_brgemm_available() { return engine::engine_available(); }

namespace {

// Inputs per microkernel call: the rows' slice of `in` (n x step floats) within half of L1, read
// at run time. One call over all of K ran AlexNet's 9216 -> 4096 layer at batch 8 in 8-10 ms
// against 4.8 on the streaming kernel; steps of 1024-2048 in 4.0-4.4 (Zen 5, 2 threads).
int64_t step_k(int64_t n) {
  const int64_t fit = engine::l1_cache_bytes() / 2 / (n * static_cast<int64_t>(sizeof(float)));
  return std::clamp<int64_t>(fit / 64 * 64, 256, 4096);
}

}  // namespace

void linear_brgemm_f32(const at::Tensor& in, const at::Tensor& w, const float* b, Activation act, at::Tensor& out) {
#if defined(CPUBLAS_BRGEMM_F32F32F32)
  using engine::block_width;
  using engine::kBlockWidth;
  const int64_t n = in.size(0), k = in.size(1), m = w.size(0);
  // (M, K) -> per block of <= 64 output columns, a row-major (K, block width) matrix, zero columns
  // past M: block c0 starts at c0 * K.
  const at::Tensor packed = prepacked_weight(w, PackedLayout::Linear, 0, [](const at::Tensor& wt) {
    const int64_t rows = wt.size(0), mp = engine::padded_width(rows);
    const at::Tensor t = at::constant_pad_nd(wt.t(), {0, mp - rows});
    std::vector<at::Tensor> blocks;
    engine::append_blocks(blocks, t, rows, 1);
    return at::cat(blocks);
  });
  const float* x = in.const_data_ptr<float>();
  const float* wp = packed.const_data_ptr<float>();
  float* o = out.mutable_data_ptr<float>();
  const int64_t blocks = (engine::padded_width(m) + kBlockWidth - 1) / kBlockWidth, kStepK = step_k(n);
  dispatch_activation(is_cheap(act) ? act : Activation::None, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
      thread_local std::vector<float> buf;
      float* c = engine::scratch(buf, n * kBlockWidth);
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t c0 = blk * kBlockWidth, nb = block_width(m, c0), nc = std::min(nb, m - c0);
        for (int64_t k0 = 0; k0 < k; k0 += kStepK) {
          at::native::cpublas::brgemm(n, nb, std::min(kStepK, k - k0), k, nb, nb, /*add_C=*/k0 > 0, x + k0,
                                      wp + c0 * k + k0 * nb, c, /*is_vnni=*/false);
        }
        for (int64_t i = 0; i < n; ++i) {
          float* orow = o + i * m + c0;
          const float* crow = c + i * nb;
          for (int64_t j = 0; j < nc; ++j) orow[j] = activate<A, float>(crow[j] + (b ? b[c0 + j] : 0.0f));
        }
      }
    });
  });
#else
  TORCH_CHECK(false, "cnnfast: this torch has no fp32 brgemm microkernel (CPUBLAS_BRGEMM_F32F32F32)");
#endif
}

}  // namespace cnnfast
