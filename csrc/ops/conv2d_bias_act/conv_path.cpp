// conv_path (see conv_path.h).
#include "ops/conv2d_bias_act/conv_path.h"

#include "common/cpu_isa.h"
#include "common/cpu_vendor.h"
#include "common/onednn_conv_cpu.h"
#include "conv_engine/conv_engine_cpu.h"

namespace cnnfast {

engine::ConvPath conv_path(const at::Tensor& x, const at::Tensor& weight, at::IntArrayRef padding,
                           at::IntArrayRef dilation, const engine::ConvGeometry& geo, c10::MemoryFormat format) {
  engine::RouteQuery q;
  q.geo = geo;
  q.fp32 = x.scalar_type() == at::kFloat && weight.scalar_type() == at::kFloat;
  q.channels_last = format == at::MemoryFormat::ChannelsLast;
  q.onednn = onednn_conv_supported(x, weight, padding, dilation);
  q.engine = engine::engine_available();
  q.vendor = cpu_vendor();
  q.avx512 = cpu_has_avx512();
  return engine::route_conv(q);
}

}  // namespace cnnfast
