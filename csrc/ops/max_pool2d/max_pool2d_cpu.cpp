// max_pool2d on the CPU, channels_last: each output pixel is the element-wise max of its window's
// input pixels, whole rows of C channels at a time (a vector max per tap), threads over output
// rows. ATen's CPU max_pool2d always computes the argmax indices too (it is max_pool2d_with_indices
// underneath) and ran 4x slower than ONNX Runtime's pooling on GoogLeNet's pools (0.84 vs 0.21 ms
// per image). NCHW inputs go to ATen.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "ops/max_pool2d/max_pool_nhwc_cpu.h"
#include "ops/max_pool2d/max_pool_row_cpu.h"
#include "ops/max_pool2d/max_pool2d.h"

namespace cnnfast {

namespace {

// m = max(m, v) per channel; NaN wins, as in torch.max_pool2d.
template <typename T>
inline void max_into(T* __restrict__ m, const T* __restrict__ v, int64_t c) {
  for (int64_t k = 0; k < c; ++k) {
    const float a = static_cast<float>(m[k]), b = static_cast<float>(v[k]);
    m[k] = (b > a || b != b) ? v[k] : m[k];
  }
}

template <>
inline void max_into<double>(double* __restrict__ m, const double* __restrict__ v, int64_t c) {
  for (int64_t k = 0; k < c; ++k) m[k] = (v[k] > m[k] || v[k] != v[k]) ? v[k] : m[k];
}

// out: any tensor whose channels are adjacent (stride(1) == 1): a dense channels_last map, or a
// channel slice of one (a concat buffer's), written through its strides.
template <typename T>
void pool_nhwc(const at::Tensor& x, at::Tensor& out, at::IntArrayRef kernel, at::IntArrayRef stride,
               at::IntArrayRef padding) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh = out.size(2), ow = out.size(3);
  const int64_t out_image = out.stride(0), out_row = out.stride(2), out_pixel = out.stride(3);
  const T* xp = x.const_data_ptr<T>();
  T* op = out.data_ptr<T>();
  const MaxPoolRowF32 pool_row_f32 = max_pool_row_f32();
  at::parallel_for(0, n * oh, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t img = r / oh, y = r % oh;
      const int64_t h0 = std::max<int64_t>(y * stride[0] - padding[0], 0);
      const int64_t h1 = std::min<int64_t>(y * stride[0] - padding[0] + kernel[0], h);
      T* orow = op + img * out_image + y * out_row;
      const T* base = xp + img * h * w * c;
      if constexpr (std::is_same_v<T, float>) {
        pool_row_f32(orow, out_pixel, base, h, w, c, ow, h0, h1, kernel[1], stride[1], padding[1]);
        continue;
      }
      for (int64_t xo = 0; xo < ow; ++xo) {
        const int64_t w0 = std::max<int64_t>(xo * stride[1] - padding[1], 0);
        const int64_t w1 = std::min<int64_t>(xo * stride[1] - padding[1] + kernel[1], w);
        T* o = orow + xo * out_pixel;
        std::copy(base + (h0 * w + w0) * c, base + (h0 * w + w0) * c + c, o);
        for (int64_t i = h0; i < h1; ++i) {
          for (int64_t j = (i == h0 ? w0 + 1 : w0); j < w1; ++j) max_into(o, base + (i * w + j) * c, c);
        }
      }
    }
  });
}

}  // namespace

bool max_pool_nhwc_input(const at::Tensor& x) {
  return x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous();
}

void max_pool2d_nhwc_into(const at::Tensor& x, at::Tensor& out, at::IntArrayRef kernel, at::IntArrayRef stride,
                          at::IntArrayRef padding) {
  TORCH_INTERNAL_ASSERT(max_pool_nhwc_input(x) && out.stride(1) == 1 && out.scalar_type() == x.scalar_type());
  if (out.numel() == 0) return;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "max_pool2d_cpu", [&] {
    pool_nhwc<scalar_t>(x, out, kernel, stride, padding);
  });
}

namespace {

at::Tensor max_pool2d_cpu(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride,
                          at::IntArrayRef padding, bool ceil_mode) {
  const auto shape = check_max_pool2d(x, kernel, stride, padding, ceil_mode);
  if (!max_pool_nhwc_input(x)) {
    return at::max_pool2d(x, kernel, stride, padding, /*dilation=*/{1, 1}, ceil_mode);
  }
  at::Tensor out = at::empty(shape, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  max_pool2d_nhwc_into(x, out, kernel, stride, padding);
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("max_pool2d", TORCH_FN(max_pool2d_cpu));
}

}  // namespace cnnfast
