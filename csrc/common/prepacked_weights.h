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

// The copy of `weight` that `pack` makes (any layout a kernel wants), cached the same way under
// `layout`, a caller-chosen id of that layout (>= 0). Thread-safe; `pack` runs under the cache lock.
at::Tensor prepacked_weight(const at::Tensor& weight, int64_t layout,
                            const std::function<at::Tensor(const at::Tensor&)>& pack);

// Number of live cache entries (for tests and cnnfast.build_info()).
int64_t prepacked_conv2d_weight_count();

}  // namespace cnnfast
