// se_squeeze on CUDA, on the current stream: NCHW reduces each plane with one warp; channels_last
// gives each block 32 adjacent channels (coalesced loads) and 8 row strides, summed in shared memory.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "common/memory_format.h"
#include "common/math.h"
#include "ops/se_squeeze/se_squeeze.h"

namespace cnnfast {

namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;

template <typename scalar_t>
__global__ void squeeze_planes_kernel(const scalar_t* __restrict__ x, scalar_t* __restrict__ out,
                                      int64_t planes, int64_t hw) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t plane = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (plane >= planes) return;  // whole warps leave together: a warp owns one plane
  const scalar_t* p = x + plane * hw;
  acc_t sum = 0;
  for (int64_t i = lane; i < hw; i += kWarp) sum += static_cast<acc_t>(p[i]);
  for (int off = kWarp / 2; off > 0; off >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, off);
  if (lane == 0) out[plane] = static_cast<scalar_t>(sum / static_cast<acc_t>(hw));
}

template <typename scalar_t>
__global__ void squeeze_rows_kernel(const scalar_t* __restrict__ x, scalar_t* __restrict__ out,
                                    int64_t c, int64_t hw) {
  using acc_t = at::opmath_type<scalar_t>;
  __shared__ acc_t partial[kRowsPerBlock][kWarp + 1];
  const int64_t ch = static_cast<int64_t>(blockIdx.x) * kWarp + threadIdx.x;
  const int64_t img = blockIdx.y;
  acc_t sum = 0;
  if (ch < c) {
    for (int64_t p = threadIdx.y; p < hw; p += kRowsPerBlock) sum += static_cast<acc_t>(x[(img * hw + p) * c + ch]);
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && ch < c) {
    acc_t total = 0;
    for (int k = 0; k < kRowsPerBlock; ++k) total += partial[k][threadIdx.x];
    out[img * c + ch] = static_cast<scalar_t>(total / static_cast<acc_t>(hw));
  }
}

at::Tensor se_squeeze_cuda(const at::Tensor& x) {
  check_se_squeeze(x);
  c10::cuda::CUDAGuard guard(x.device());
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  at::Tensor out = at::empty({n, c}, x.options());
  if (out.numel() == 0) return out;
  TORCH_CHECK_VALUE(n <= 65535, "cnnfast.se_squeeze: CUDA batch is limited to 65535, got ", n);
  const auto format = elementwise_memory_format(x);
  const at::Tensor xc = x.contiguous(format);
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "se_squeeze_cuda", [&] {
    if (format == at::MemoryFormat::ChannelsLast) {
      const dim3 block(kWarp, kRowsPerBlock), grid(ceil_div<int64_t>(c, kWarp), n);
      squeeze_rows_kernel<scalar_t><<<grid, block, 0, stream>>>(xc.const_data_ptr<scalar_t>(),
                                                                out.data_ptr<scalar_t>(), c, hw);
    } else {
      const int threads = 256, planes_per_block = threads / kWarp;
      const int64_t blocks = ceil_div<int64_t>(n * c, planes_per_block);
      squeeze_planes_kernel<scalar_t><<<blocks, threads, 0, stream>>>(xc.const_data_ptr<scalar_t>(),
                                                                      out.data_ptr<scalar_t>(), n * c, hw);
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CUDA, m) {
  m.impl("se_squeeze", TORCH_FN(se_squeeze_cuda));
}

}  // namespace cnnfast
