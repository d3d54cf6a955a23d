// The kernel route for a conv2d_bias_act call's tensors: conv_engine/route.h's rule fed with what
// only the tensors tell (dtype, layout, whether oneDNN takes them). Shared by conv2d_bias_act
// and conv2d_bias_act_out.
#pragma once

#include <ATen/core/Tensor.h>

#include "conv_engine/geometry.h"
#include "conv_engine/route.h"

namespace cnnfast {

engine::ConvPath conv_path(const at::Tensor& x, const at::Tensor& weight, at::IntArrayRef padding,
                           at::IntArrayRef dilation, const engine::ConvGeometry& geo, c10::MemoryFormat format);

}  // namespace cnnfast
