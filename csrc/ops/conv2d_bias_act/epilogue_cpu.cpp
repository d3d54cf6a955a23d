// One-pass bias + residual + activation epilogue for the CPU fallback path (any float dtype).
#include "ops/conv2d_bias_act/epilogue_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

namespace cnnfast {

void bias_residual_act_cpu_(at::Tensor& out, const std::optional<at::Tensor>& bias,
                            const std::optional<at::Tensor>& residual, Activation act) {
  const bool channels_last = !out.is_contiguous() && out.is_contiguous(at::MemoryFormat::ChannelsLast);
  const auto format = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  const int64_t n = out.size(0), c = out.size(1), hw = out.size(2) * out.size(3);
  if (out.numel() == 0) return;
  at::Tensor res = residual.has_value() ? residual->contiguous(format) : at::Tensor();
  at::Tensor b = bias.has_value() ? bias->contiguous() : at::Tensor();

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "bias_residual_act_cpu_", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    scalar_t* o = out.data_ptr<scalar_t>();
    const scalar_t* r = res.defined() ? res.const_data_ptr<scalar_t>() : nullptr;
    const scalar_t* bp = b.defined() ? b.const_data_ptr<scalar_t>() : nullptr;
    if (channels_last) {
      // Rows of C contiguous values: the bias vector lines up with each row.
      at::parallel_for(0, n * hw, 64, [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) {
          scalar_t* orow = o + row * c;
          const scalar_t* rrow = r ? r + row * c : nullptr;
          for (int64_t k = 0; k < c; ++k) {
            acc_t v = static_cast<acc_t>(orow[k]);
            if (bp) v += static_cast<acc_t>(bp[k]);
            if (rrow) v += static_cast<acc_t>(rrow[k]);
            orow[k] = static_cast<scalar_t>(apply_activation<acc_t>(v, act));
          }
        }
      });
    } else {
      // Planes of H*W values sharing one channel, hence one bias value.
      at::parallel_for(0, n * c, 1, [&](int64_t begin, int64_t end) {
        for (int64_t plane = begin; plane < end; ++plane) {
          const acc_t bias_v = bp ? static_cast<acc_t>(bp[plane % c]) : acc_t(0);
          scalar_t* op = o + plane * hw;
          const scalar_t* rp = r ? r + plane * hw : nullptr;
          for (int64_t k = 0; k < hw; ++k) {
            acc_t v = static_cast<acc_t>(op[k]) + bias_v;
            if (rp) v += static_cast<acc_t>(rp[k]);
            op[k] = static_cast<scalar_t>(apply_activation<acc_t>(v, act));
          }
        }
      });
    }
  });
}

}  // namespace cnnfast
