// with_memory_format (see memory_format.h).
#include "common/memory_format.h"

#include <ATen/ATen.h>
#include <c10/util/strides.h>

namespace cnnfast {

at::Tensor with_memory_format(const at::Tensor& t, c10::MemoryFormat format) {
  // The strides at::empty would give for this format, computed without allocating a tensor.
  const bool same = format == c10::MemoryFormat::ChannelsLast
                        ? t.strides() == at::IntArrayRef(c10::get_channels_last_strides_2d(t.sizes()))
                        : t.strides() == at::IntArrayRef(c10::contiguous_strides(t.sizes()));
  if (same) return t;
  auto copy = at::empty(t.sizes(), t.options().memory_format(format));
  copy.copy_(t);
  return copy;
}

}  // namespace cnnfast
