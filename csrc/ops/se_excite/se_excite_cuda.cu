// se_excite on CUDA: one block per image runs both FC layers with the pooled vector and the
// hidden layer in shared memory (one launch instead of GEMM + act + GEMM + act); each warp
// computes one output as a strided dot product. Layers too wide for shared memory use cuBLAS.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "cnnfast/activation.h"
#include "common/activation_inplace.h"
#include "ops/se_excite/se_excite.h"

namespace cnnfast {

namespace {

constexpr int kWarp = 32;
constexpr int kThreads = 256;
constexpr size_t kMaxSharedBytes = 48 * 1024;  // the default dynamic shared memory limit

template <typename acc_t>
__device__ inline acc_t warp_sum(acc_t v) {
  for (int off = kWarp / 2; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return v;
}

// row[0:k] . v[0:k] by one warp: lane-strided partial sums, then a shuffle-down sum whose total
// lands in lane 0 (the lane the callers write from).
template <typename scalar_t, typename acc_t>
__device__ inline acc_t warp_dot(const scalar_t* __restrict__ row, const acc_t* v, int64_t k, int lane) {
  acc_t acc = 0;
  for (int64_t i = lane; i < k; i += kWarp) acc += static_cast<acc_t>(row[i]) * v[i];
  return warp_sum(acc);
}

template <typename scalar_t>
__global__ void excite_kernel(const scalar_t* __restrict__ s, const scalar_t* __restrict__ w1,
                              const scalar_t* __restrict__ b1, const scalar_t* __restrict__ w2,
                              const scalar_t* __restrict__ b2, scalar_t* __restrict__ out, int64_t c,
                              int64_t r, Activation act1, Activation act2) {
  using acc_t = at::opmath_type<scalar_t>;
  extern __shared__ unsigned char smem[];
  acc_t* sv = reinterpret_cast<acc_t*>(smem);
  acc_t* hv = sv + c;
  const int64_t img = blockIdx.x;
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp, warps = blockDim.x / kWarp;
  for (int64_t i = threadIdx.x; i < c; i += blockDim.x) sv[i] = static_cast<acc_t>(s[img * c + i]);
  __syncthreads();
  for (int64_t j = warp; j < r; j += warps) {
    acc_t acc = warp_dot(w1 + j * c, sv, c, lane);
    if (lane == 0) {
      if (b1 != nullptr) acc += static_cast<acc_t>(b1[j]);
      // Rounded to scalar_t as the unfused FC layer's output would be.
      hv[j] = static_cast<acc_t>(static_cast<scalar_t>(apply_activation<acc_t>(acc, act1)));
    }
  }
  __syncthreads();
  for (int64_t j = warp; j < c; j += warps) {
    acc_t acc = warp_dot(w2 + j * r, hv, r, lane);
    if (lane == 0) {
      if (b2 != nullptr) acc += static_cast<acc_t>(b2[j]);
      out[img * c + j] = static_cast<scalar_t>(apply_activation<acc_t>(acc, act2));
    }
  }
}

at::Tensor excite_cublas(const at::Tensor& s, const at::Tensor& w1, const std::optional<at::Tensor>& b1,
                         const at::Tensor& w2, const std::optional<at::Tensor>& b2, Activation act1,
                         Activation act2) {
  at::Tensor h = b1.has_value() ? at::addmm(*b1, s, w1.t()) : at::mm(s, w1.t());
  activation_(h, act1);
  at::Tensor out = b2.has_value() ? at::addmm(*b2, h, w2.t()) : at::mm(h, w2.t());
  activation_(out, act2);
  return out.contiguous();
}

at::Tensor se_excite_cuda(const at::Tensor& s, const at::Tensor& w1, const std::optional<at::Tensor>& b1,
                          const at::Tensor& w2, const std::optional<at::Tensor>& b2,
                          c10::string_view act1_name, c10::string_view act2_name) {
  check_se_excite(s, w1, b1, w2, b2);
  const Activation act1 = parse_activation(act1_name), act2 = parse_activation(act2_name);
  c10::cuda::CUDAGuard guard(s.device());
  const int64_t n = s.size(0), c = s.size(1), r = w1.size(0);
  const size_t acc_bytes = s.scalar_type() == at::kDouble ? sizeof(double) : sizeof(float);
  const size_t smem = static_cast<size_t>(c + r) * acc_bytes;
  if (smem > kMaxSharedBytes) return excite_cublas(s, w1, b1, w2, b2, act1, act2);
  at::Tensor out = at::empty({n, c}, s.options());
  if (n == 0) return out;
  const at::Tensor sc = s.contiguous(), w1c = w1.contiguous(), w2c = w2.contiguous();
  const at::Tensor b1c = b1.has_value() ? b1->contiguous() : at::Tensor();
  const at::Tensor b2c = b2.has_value() ? b2->contiguous() : at::Tensor();
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.scalar_type(), "se_excite_cuda", [&] {
    excite_kernel<scalar_t><<<n, kThreads, smem, stream>>>(
        sc.const_data_ptr<scalar_t>(), w1c.const_data_ptr<scalar_t>(),
        b1c.defined() ? b1c.const_data_ptr<scalar_t>() : nullptr, w2c.const_data_ptr<scalar_t>(),
        b2c.defined() ? b2c.const_data_ptr<scalar_t>() : nullptr, out.data_ptr<scalar_t>(), c, r, act1, act2);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("se_excite", TORCH_FN(se_excite_cuda));
}

}  // namespace cnnfast
