// conv2d_bias_act on CUDA: cuDNN convolution (through ATen) then one fused epilogue kernel
// (bias + residual + activation) on the current stream, for fp32, fp16 and bf16, both layouts.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "common/math.h"
#include "ops/conv2d_bias_act/conv2d_bias_act.h"

namespace cnnfast {

namespace {

template <typename scalar_t, bool kChannelsLast>
__global__ void bias_residual_act_kernel(scalar_t* __restrict__ out, const scalar_t* __restrict__ bias,
                                         const scalar_t* __restrict__ residual, int64_t numel,
                                         int64_t channels, int64_t hw, Activation act) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < numel; i += stride) {
    acc_t v = static_cast<acc_t>(out[i]);
    if (bias != nullptr) {
      const int64_t c = kChannelsLast ? i % channels : (i / hw) % channels;
      v += static_cast<acc_t>(bias[c]);
    }
    if (residual != nullptr) v += static_cast<acc_t>(residual[i]);
    out[i] = static_cast<scalar_t>(apply_activation<acc_t>(v, act));
  }
}

at::Tensor conv2d_bias_act_cuda(const at::Tensor& x, const at::Tensor& weight,
                                const std::optional<at::Tensor>& bias, at::IntArrayRef stride,
                                at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
                                const std::optional<at::Tensor>& residual, c10::string_view act_name) {
  const auto out_shape = check_conv2d_bias_act(x, weight, bias, stride, padding, dilation, groups, residual);
  const Activation act = parse_activation(act_name);
  const auto format = output_memory_format(x);
  c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out;
  if (x.size(0) == 0) {
    out = at::zeros(out_shape, x.options().memory_format(format));
  } else {
    out = at::convolution(x.contiguous(format), weight, std::nullopt, stride, padding, dilation,
                          /*transposed=*/false, /*output_padding=*/{0, 0}, groups);
    out = with_memory_format(out, format);
  }
  const int64_t numel = out.numel();
  if (numel == 0) return out;
  at::Tensor res;
  // One residual element per output element, laid out like the output (copies only if not).
  if (residual.has_value()) res = with_memory_format(residual->expand(out_shape), format);
  at::Tensor b = bias.has_value() ? bias->contiguous() : at::Tensor();
  const bool channels_last = format == at::MemoryFormat::ChannelsLast;
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>(ceil_div<int64_t>(numel, threads), 65535LL * 8);
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "conv2d_bias_act_cuda", [&] {
    const scalar_t* bp = b.defined() ? b.const_data_ptr<scalar_t>() : nullptr;
    const scalar_t* rp = res.defined() ? res.const_data_ptr<scalar_t>() : nullptr;
    if (channels_last) {
      bias_residual_act_kernel<scalar_t, true><<<blocks, threads, 0, stream>>>(
          out.data_ptr<scalar_t>(), bp, rp, numel, out.size(1), out.size(2) * out.size(3), act);
    } else {
      bias_residual_act_kernel<scalar_t, false><<<blocks, threads, 0, stream>>>(
          out.data_ptr<scalar_t>(), bp, rp, numel, out.size(1), out.size(2) * out.size(3), act);
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("conv2d_bias_act", TORCH_FN(conv2d_bias_act_cuda));
}

}  // namespace cnnfast
