// The channels_last CPU max pool, shared by max_pool2d (a fresh output) and max_pool2d_out (a
// concat buffer's channel slice).
#pragma once

#include <ATen/core/Tensor.h>

namespace cnnfast {

// Whether the CPU kernel takes x: a channels_last map (not also contiguous: C == 1 or 1x1 maps go
// to ATen, whose layout rule then decides).
bool max_pool_nhwc_input(const at::Tensor& x);

// out (shape checked by the caller, channels adjacent: stride(1) == 1, any other strides) = the max
// pool of x; x as max_pool_nhwc_input takes it. Nothing outside out's elements is written.
void max_pool2d_nhwc_into(const at::Tensor& x, at::Tensor& out, at::IntArrayRef kernel, at::IntArrayRef stride,
                          at::IntArrayRef padding);

}  // namespace cnnfast
