// se_scale on the CPU: act(x * gate + residual) in one pass, the activation fixed at compile time
// so the inner loops vectorise; OpenMP over planes (NCHW) or rows of channels (channels_last).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>

#include "cnnfast/activation.h"
#include "common/activation_inplace.h"
#include "common/memory_format.h"
#include "ops/se_scale/se_scale.h"

namespace cnnfast {

namespace {

constexpr int64_t kGrainElements = 16384;

// out[i] = act(x[i] * g[i] + r[i]) over one run of len values; g_stride is 0 for a run that shares
// one gate value (an NCHW plane) and 1 for a run of channels (a channels_last row).
template <Activation A, typename scalar_t>
inline void scale_run(const scalar_t* x, const scalar_t* g, int64_t g_stride, const scalar_t* r,
                      scalar_t* out, int64_t len) {
  using acc_t = at::opmath_type<scalar_t>;
  if (g_stride == 0) {
    const acc_t gv = static_cast<acc_t>(g[0]);
    if (r) {
      for (int64_t i = 0; i < len; ++i)
        out[i] = static_cast<scalar_t>(activate<A, acc_t>(static_cast<acc_t>(x[i]) * gv + static_cast<acc_t>(r[i])));
    } else {
      for (int64_t i = 0; i < len; ++i) out[i] = static_cast<scalar_t>(activate<A, acc_t>(static_cast<acc_t>(x[i]) * gv));
    }
  } else if (r) {
    for (int64_t i = 0; i < len; ++i)
      out[i] = static_cast<scalar_t>(activate<A, acc_t>(static_cast<acc_t>(x[i]) * static_cast<acc_t>(g[i]) +
                                                        static_cast<acc_t>(r[i])));
  } else {
    for (int64_t i = 0; i < len; ++i)
      out[i] = static_cast<scalar_t>(activate<A, acc_t>(static_cast<acc_t>(x[i]) * static_cast<acc_t>(g[i])));
  }
}

template <Activation A, typename scalar_t>
void scale(const scalar_t* x, const scalar_t* g, const scalar_t* r, scalar_t* out, int64_t n, int64_t c,
           int64_t hw, bool channels_last) {
  if (channels_last) {
    at::parallel_for(0, n * hw, std::max<int64_t>(1, kGrainElements / c), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t off = row * c;
        scale_run<A>(x + off, g + (row / hw) * c, 1, r ? r + off : nullptr, out + off, c);
      }
    });
  } else {
    at::parallel_for(0, n * c, std::max<int64_t>(1, kGrainElements / hw), [&](int64_t begin, int64_t end) {
      for (int64_t plane = begin; plane < end; ++plane) {
        const int64_t off = plane * hw;
        scale_run<A>(x + off, g + plane, 0, r ? r + off : nullptr, out + off, hw);
      }
    });
  }
}

// Computes into out, which is x itself for se_scale_ or a fresh tensor in x's layout.
void se_scale_into(const at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual,
                   Activation act, const at::Tensor& out) {
  if (out.numel() == 0) return;
  const auto format = elementwise_memory_format(out);
  const at::Tensor xc = x.contiguous(format);
  const at::Tensor g = gate.contiguous();
  const at::Tensor r = residual.has_value() ? with_memory_format(*residual, format) : at::Tensor();
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "se_scale_cpu", [&] {
    const scalar_t* rp = r.defined() ? r.const_data_ptr<scalar_t>() : nullptr;
    // Transcendental activations follow as ATen's vectorised in-place pass (see is_cheap).
    dispatch_activation(is_cheap(act) ? act : Activation::None, [&](auto a) {
      scale<decltype(a)::value>(xc.const_data_ptr<scalar_t>(), g.const_data_ptr<scalar_t>(), rp,
                                out.data_ptr<scalar_t>(), n, c, hw, format == at::MemoryFormat::ChannelsLast);
    });
  });
  if (!is_cheap(act)) {
    at::Tensor o = out;
    activation_(o, act);
  }
}

at::Tensor se_scale_cpu(const at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual,
                        c10::string_view act_name) {
  check_se_scale(x, gate, residual);
  const Activation act = parse_activation(act_name);
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(elementwise_memory_format(x)));
  se_scale_into(x, gate, residual, act, out);
  return out;
}

void se_scale_inplace_cpu(at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual,
                                 c10::string_view act_name) {
  check_se_scale(x, gate, residual);
  const Activation act = parse_activation(act_name);
  if (x.is_contiguous(elementwise_memory_format(x))) {
    se_scale_into(x, gate, residual, act, x);  // elementwise: each value is read before it is written
  } else {
    x.copy_(se_scale_cpu(x, gate, residual, act_name));  // a strided view: compute, then write back
  }
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("se_scale", TORCH_FN(se_scale_cpu));
  m.impl("se_scale_", TORCH_FN(se_scale_inplace_cpu));
}

}  // namespace cnnfast
