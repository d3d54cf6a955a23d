// Output layouts of the cnnfast ops: results keep their input's layout, with exact strides.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/MemoryFormat.h>

namespace cnnfast {

// channels_last when x is channels_last and not also plain contiguous, else contiguous. The
// elementwise SE ops use this rule; cnnfast/contracts/layout.py mirrors it for the fake kernels.
inline c10::MemoryFormat elementwise_memory_format(const at::Tensor& x) {
  return (x.is_contiguous(c10::MemoryFormat::ChannelsLast) && !x.is_contiguous())
             ? c10::MemoryFormat::ChannelsLast
             : c10::MemoryFormat::Contiguous;
}

// Destinations the CPU conv kernels store into in place (conv2d_bias_act_out's `out`).
// NHWC with any row and pixel pitch: a channels_last tensor or a channel slice of one (the engine
// stores through all three strides).
inline bool unit_channel_stride(const at::Tensor& out) {
  return out.stride(1) == 1 && out.stride(3) >= out.size(1) && out.stride(2) >= out.size(3) * out.stride(3) &&
         out.stride(0) >= out.size(2) * out.stride(2);
}

// Stricter: every pixel one pitch apart, as in a channel slice of a fresh channels_last concat
// buffer (the direct 1x1 kernel numbers output pixels across rows and images).
inline bool pixel_dense_nhwc(const at::Tensor& out) {
  const int64_t pitch = out.stride(3);
  return out.stride(1) == 1 && pitch >= out.size(1) && (out.size(2) == 1 || out.stride(2) == out.size(3) * pitch) &&
         (out.size(0) == 1 || out.stride(0) == out.size(2) * out.size(3) * pitch);
}

// Returns t when its strides already are those of `format`, else a copy that has them, so the
// real kernels give exactly the strides the fake kernel promised.
at::Tensor with_memory_format(const at::Tensor& t, c10::MemoryFormat format);

}  // namespace cnnfast
