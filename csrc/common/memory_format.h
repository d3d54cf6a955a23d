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

// Returns t when its strides already are those of `format`, else a copy that has them, so the
// real kernels give exactly the strides the fake kernel promised.
at::Tensor with_memory_format(const at::Tensor& t, c10::MemoryFormat format);

}  // namespace cnnfast
