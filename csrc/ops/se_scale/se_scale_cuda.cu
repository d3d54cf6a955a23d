// se_scale on CUDA: one grid-stride elementwise pass, act(x * gate[n, c] + residual), on the
// current stream; the channel of element i follows from the layout (i % C for channels_last).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "common/memory_format.h"
#include "common/math.h"
#include "ops/se_scale/se_scale.h"

namespace cnnfast {

namespace {

template <typename scalar_t, bool kChannelsLast>
// x and out may be the same buffer (se_scale_), so neither is __restrict__.
__global__ void scale_kernel(const scalar_t* x, const scalar_t* __restrict__ gate,
                             const scalar_t* residual, scalar_t* out,
                             int64_t numel, int64_t c, int64_t hw, Activation act) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < numel; i += stride) {
    // Index of (image, channel) in the (N, C) gate.
    const int64_t nc = kChannelsLast ? (i / (hw * c)) * c + i % c : i / hw;
    acc_t v = static_cast<acc_t>(x[i]) * static_cast<acc_t>(gate[nc]);
    if (residual != nullptr) v += static_cast<acc_t>(residual[i]);
    out[i] = static_cast<scalar_t>(apply_activation<acc_t>(v, act));
  }
}

// Computes into out, which is x itself for se_scale_ or a fresh tensor in x's layout.
void se_scale_into(const at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual,
                   Activation act, const at::Tensor& out) {
  const int64_t numel = out.numel();
  if (numel == 0) return;
  const auto format = elementwise_memory_format(out);
  const at::Tensor xc = x.contiguous(format);
  const at::Tensor g = gate.contiguous();
  const at::Tensor r = residual.has_value() ? with_memory_format(*residual, format) : at::Tensor();
  const int64_t c = x.size(1), hw = x.size(2) * x.size(3);
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>(ceil_div<int64_t>(numel, threads), 65535LL * 8);
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "se_scale_cuda", [&] {
    const scalar_t* rp = r.defined() ? r.const_data_ptr<scalar_t>() : nullptr;
    if (format == at::MemoryFormat::ChannelsLast) {
      scale_kernel<scalar_t, true><<<blocks, threads, 0, stream>>>(
          xc.const_data_ptr<scalar_t>(), g.const_data_ptr<scalar_t>(), rp, out.data_ptr<scalar_t>(), numel, c, hw, act);
    } else {
      scale_kernel<scalar_t, false><<<blocks, threads, 0, stream>>>(
          xc.const_data_ptr<scalar_t>(), g.const_data_ptr<scalar_t>(), rp, out.data_ptr<scalar_t>(), numel, c, hw, act);
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

at::Tensor se_scale_cuda(const at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual,
                         c10::string_view act_name) {
  check_se_scale(x, gate, residual);
  const Activation act = parse_activation(act_name);
  c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(elementwise_memory_format(x)));
  se_scale_into(x, gate, residual, act, out);
  return out;
}

void se_scale_inplace_cuda(at::Tensor& x, const at::Tensor& gate, const std::optional<at::Tensor>& residual,
                                  c10::string_view act_name) {
  check_se_scale(x, gate, residual);
  const Activation act = parse_activation(act_name);
  c10::cuda::CUDAGuard guard(x.device());
  if (x.is_contiguous(elementwise_memory_format(x))) {
    se_scale_into(x, gate, residual, act, x);  // each thread reads its element before writing it
  } else {
    x.copy_(se_scale_cuda(x, gate, residual, act_name));
  }
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("se_scale", TORCH_FN(se_scale_cuda));
  m.impl("se_scale_", TORCH_FN(se_scale_inplace_cuda));
}

}  // namespace cnnfast
