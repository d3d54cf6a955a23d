// to_channels_last on the CPU. A network's RGB input arrives NCHW; every optimized model's first
// conv wants it channels_last, and ATen's copy into that layout took ~100 us for one 3 x 224 x 224
// image (~6 GB/s: a generic strided loop for 3 channels), longer than MobileNetV3's whole stem
// conv. Here an NCHW fp32 map with few channels is interleaved row by row: each output pixel's C
// values come from C planes read in order, so every read and write streams.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>

#include "common/cpu_clones.h"
#include "ops/to_channels_last/to_channels_last.h"

namespace cnnfast {

namespace {

// Up to this many channels the interleave runs here; wider maps interleave poorly by pixel and
// are left to ATen's copy (a network's inputs have 1-4).
constexpr int64_t kMaxChannels = 4;

// out[p * C + c] = in[c * plane + p] for pixels [p0, p1) of one image: C a compile-time constant,
// so the inner loop is fully unrolled and the planes stream.
template <int C>
inline __attribute__((always_inline)) void interleave(const float* __restrict__ in, float* __restrict__ out,
                                                      int64_t plane, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; ++p) {
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) out[p * C + c] = in[c * plane + p];
  }
}

CNNFAST_CPU_CLONES void interleave_images(const float* __restrict__ in, float* __restrict__ out, int64_t c,
                                          int64_t plane, int64_t i0, int64_t i1, int64_t chunk) {
  // Work items: chunks of `chunk` pixels, image by image.
  const int64_t per_image = (plane + chunk - 1) / chunk;
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t img = i / per_image, p0 = (i % per_image) * chunk, p1 = std::min(plane, p0 + chunk);
    const float* src = in + img * c * plane;
    float* dst = out + img * c * plane;
    switch (c) {
      case 2: interleave<2>(src, dst, plane, p0, p1); break;
      case 3: interleave<3>(src, dst, plane, p0, p1); break;
      case 4: interleave<4>(src, dst, plane, p0, p1); break;
      default: interleave<1>(src, dst, plane, p0, p1); break;
    }
  }
}

at::Tensor to_channels_last_cpu(const at::Tensor& x) {
  check_to_channels_last(x);
  if (x.scalar_type() != at::kFloat || !x.is_contiguous() || x.size(1) > kMaxChannels || x.numel() == 0) {
    return to_channels_last_composite(x);
  }
  at::Tensor out = at::empty_like(x, at::MemoryFormat::ChannelsLast);
  const int64_t c = x.size(1), plane = x.size(2) * x.size(3);
  // Chunks of 4096 pixels (48 KB of a 3-channel image each way): enough per task to pay for a thread
  // hand-off, small enough that both threads share one image.
  constexpr int64_t kChunk = 4096;
  const int64_t items = x.size(0) * ((plane + kChunk - 1) / kChunk);
  const float* in = x.const_data_ptr<float>();
  float* o = out.mutable_data_ptr<float>();
  at::parallel_for(0, items, 1, [&](int64_t i0, int64_t i1) { interleave_images(in, o, c, plane, i0, i1, kChunk); });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("to_channels_last", TORCH_FN(to_channels_last_cpu));
}

}  // namespace cnnfast
