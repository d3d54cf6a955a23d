// Cache of convolution weights reordered once into oneDNN's blocked layout, keyed by the weight.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

namespace cnnfast {

// The oneDNN-layout copy of `weight` for a conv with these parameters and input size. Built on
// first use and reused while the weight tensor lives and is unchanged (same storage, same
// version counter), so callers pass plain dense weights and still skip the per-call reorder that
// eager PyTorch pays. Thread-safe.
at::Tensor prepacked_conv2d_weight(const at::Tensor& weight, at::IntArrayRef padding,
                                   at::IntArrayRef stride, at::IntArrayRef dilation,
                                   int64_t groups, at::IntArrayRef input_size);

// The layouts cnnfast's own kernels pack weights into; each kernel's file says what its layout is.
enum class PackedLayout : int64_t {
  SmallCnn = 0,   // ops/small_cnn: (KH * KW * C, O padded to 16); variant 1: linear (K, O padded to 16)
  Depthwise = 1,  // ops/conv2d_bias_act/depthwise_conv_cpu.cpp: (KH * KW, C padded to 16)
  Pointwise = 2,  // ops/conv2d_bias_act/pointwise_conv_cpu.cpp: panels of (Cin, <= 64)
  Engine = 3,     // conv_engine/packed_filter.cpp: (G, R * S * Cg, Kg padded to 16), per group count
  Stem = 4,       // ops/conv2d_bias_act/stem_conv_cpu.cpp: (R, S, C, K padded to 16)
  Winograd = 5,   // conv_engine/winograd_filter.cpp: per 64-channel block, (16, C, block width)
  Grouped = 6,    // ops/conv2d_bias_act/grouped_conv_cpu.cpp: (C padded to 16 / 16, KH * KW, group width, 16)
  Linear = 7,     // common/linear_brgemm_cpu.cpp: per block of <= 64 outputs, (K, block width)
};

// The copy of `weight` that `pack` makes, cached the same way under `layout` and `variant` (a
// parameter the packing depends on, such as the group count; 0 where none). Thread-safe; `pack`
// runs under the cache lock.
at::Tensor prepacked_weight(const at::Tensor& weight, PackedLayout layout, int64_t variant,
                            const std::function<at::Tensor(const at::Tensor&)>& pack);

// Number of live cache entries (for tests and cnnfast.build_info()).
int64_t prepacked_conv2d_weight_count();

}  // namespace cnnfast
