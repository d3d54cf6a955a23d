// The RGB stem of a CNN (3 input channels, 16-64 output channels: MobileNetV3's 3->16 3x3/2,
// EfficientNet's 3->32) computed directly in channels_last. With 3 input channels a conv is
// 27 (3x3) or 147 (7x7) multiply-adds per output channel and pixel, a K of 27-147 that leaves
// oneDNN's blocked kernels far from their peak: its 3->16 3x3/2 on 224x224 took 221 us at batch 1
// against ONNX Runtime's 124 (cnnfast profile, 2026-12-04).
// Here every filter tap and input channel is one broadcast input value times one vector of output
// channels' weights, accumulated for a block of output pixels in registers (P pixels x KV vectors),
// so each weight vector is loaded once per block and each input value once per output vector.
// Built once per x86-64 level on that level's vector width (common/cpu_levels.h): 16 lanes with
// AVX-512, 8 with AVX2. Input rows are copied into a ring of zero-padded rows (as the depthwise
// kernel does), so the tap loop has no bounds tests, and bias, residual and activation are applied
// as the accumulators are stored.
#include "ops/conv2d_bias_act/stem_conv_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/cpu_levels.h"
#include "common/math.h"
#include "common/prepacked_weights.h"
#include "common/vec_cpu.h"
#include "ops/conv2d_bias_act/direct_conv_cpu.h"

namespace cnnfast {

namespace {

struct Geometry {
  int64_t c, k, kp, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Floats per pixel in the L1 tile a register block goes out through: its KV vectors where one
// block holds all of a pixel's channels (16 lanes), else every output channel. The 16-lane build
// keeps the form the kernel had before the narrower builds (one block per pixel, rows of its
// vectors): with the channel loop and 64-float rows it ran MobileNetV3's and EfficientNet-B0's
// stems 4-7% slower; as it is, within 3% of before on the four RGB stride-2 stems (Zen 4, 2026-12-07).
template <int W, int KV>
constexpr int64_t kTileRow = W == 16 ? KV * W : kStemMaxOutputChannels;

// P output pixels x KV vectors of W output channels, vectors q0 .. q0 + KV - 1, accumulated over
// every tap and input channel into tile (P rows of kTileRow<W, KV> floats). C and S: the input channels
// and column stride when known at compile time (0: g's), so that the P pixels' input offsets are
// constants (as runtime values they ran out of registers).
template <int W, int P, int KV, int C, int S>
inline __attribute__((always_inline)) void pixel_block(const std::vector<const float*>& rows, const float* wpk,
                                                       const float* bias, const Geometry& g, int64_t ox, int64_t q0,
                                                       float* tile) {
  using V = vec::vf<W>;
  const int64_t nc = C ? C : g.c, sw = S ? S : g.sw;
  V acc[P][KV];
  fill_with_bias(acc, bias + q0 * W);
  const int64_t tap_stride = nc * g.kp;
  for (int64_t t = 0; t < g.kh; ++t) {
    const float* row = rows[t];
    if (!row) continue;  // a padding row: adds nothing
    const float* wt = wpk + t * g.kw * tap_stride + q0 * W;
    for (int64_t s = 0; s < g.kw; ++s) {
      const float* in = row + (ox * sw + s * g.dw) * nc;
#pragma GCC unroll 4
      for (int64_t ci = 0; ci < nc; ++ci) {
        V wv[KV];
#pragma GCC unroll 4
        for (int q = 0; q < KV; ++q) wv[q] = vec::load<V>(wt + (s * nc + ci) * g.kp + q * W);
#pragma GCC unroll 16
        for (int p = 0; p < P; ++p) {
          const float xv = in[p * sw * nc + ci];  // vector * scalar: one FMA with a broadcast operand
#pragma GCC unroll 4
          for (int q = 0; q < KV; ++q) acc[p][q] += wv[q] * xv;
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {  // fully unrolled (constant indices keep acc in registers)
#pragma GCC unroll 4
    for (int q = 0; q < KV; ++q) vec::store(tile + p * kTileRow<W, KV> + (q0 + q) * W, acc[p][q]);
  }
}

// Output rows [r0, r1) of the N * OH rows, P pixels at a time, each block's output vectors KV at a
// time. Out through an L1 tile and one store loop, as pointwise_conv_cpu.cpp does: a store straight
// from each of the P * KV registers inlined every activation's code P * KV times, which made this
// file take 9 minutes to compile for stores that cost one load per 27-147 FMAs here.
template <int W, int P, int KV, int C, int S>
inline __attribute__((always_inline)) void stem_rows(const float* __restrict__ x, const float* __restrict__ wpk,
                                                     const float* __restrict__ bias, const float* __restrict__ res,
                                                     float* __restrict__ out, const Geometry& g, Activation act,
                                                     int64_t r0, int64_t r1) {
  // Ring rows wide enough for whole blocks of P pixels; padding and the block overhang are zeros.
  const int64_t block_cols = (round_up<int64_t>(g.ow, P) - 1) * g.sw + (g.kw - 1) * g.dw + 1;
  const int64_t padded_w = std::max(g.w + 2 * g.pw, block_cols), row = padded_w * g.c;
  const int64_t span = (g.kh - 1) * g.dh + 1;
  std::vector<float> ring(span * row, 0.0f);
  std::vector<int64_t> holds(span, -1);  // img * H + iy of the row in each slot
  std::vector<const float*> rows(g.kh);
  alignas(64) float tile[P * kTileRow<W, KV>];
  const int64_t vectors = g.kp / W;  // kp: a multiple of 16, so of every level's W
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t img = r / g.oh, oy = r % g.oh;
    for (int64_t t = 0; t < g.kh; ++t) {
      const int64_t iy = oy * g.sh - g.ph + t * g.dh;
      if (iy < 0 || iy >= g.h) {
        rows[t] = nullptr;
        continue;
      }
      float* slot = ring.data() + (iy % span) * row;
      if (holds[iy % span] != img * g.h + iy) {
        holds[iy % span] = img * g.h + iy;
        std::copy_n(x + (img * g.h + iy) * g.w * g.c, g.w * g.c, slot + g.pw * g.c);
      }
      rows[t] = slot;
    }
    float* const o = out + r * g.ow * g.k;
    const float* const rr = res ? res + r * g.ow * g.k : nullptr;
    for (int64_t ox = 0; ox < g.ow; ox += P) {
      if constexpr (W == 16) {  // one block holds all of a pixel's channels
        pixel_block<W, P, KV, C, S>(rows, wpk, bias, g, ox, 0, tile);
      } else {
        for (int64_t q0 = 0; q0 < vectors; q0 += KV) pixel_block<W, P, KV, C, S>(rows, wpk, bias, g, ox, q0, tile);
      }
      const int64_t n = std::min<int64_t>(g.ow - ox, P);
#pragma GCC unroll 1
      for (int64_t p = 0; p < n; ++p) {
        store_row<vec::vf<W>>(o + (ox + p) * g.k, tile + p * kTileRow<W, KV>, rr ? rr + (ox + p) * g.k : nullptr,
                              g.k, act);
      }
    }
  }
}

// stem_rows with the register block for W-lane vectors. 16 lanes (AVX-512, 32 registers): 16
// accumulators, 16 pixels x 1 vector up to 16 channels, 8 x 2 up to 32, 4 x 3 / 4 x 4 up to 64, all
// of a pixel's channels in one block. 8 lanes (AVX2, 16 registers) and 4: 5 pixels x 2 vectors, the
// channels 2 vectors at a time. Against oneDNN's AVX2 kernels (GoogLeNet's, Inception-v3's,
// MobileNetV3's, EfficientNet's and ShuffleNet's stems at batch 1 and 8, 2 threads, two runs,
// AMD EPYC Zen 4 with ONEDNN_MAX_CPU_ISA=AVX2 and this file's AVX2 build, 2026-12-07): 5 x 2 took
// 0.76-1.02x of its time where the rule takes it, 4 x 2 0.82-1.09x, 3 x 2 0.94-1.26x, and 6 x 2
// (12 accumulators beside 2 weight vectors and a broadcast, 15 of 16 registers) 1.15-1.44x; 8 x 1
// 1.19-1.59x, 2 x 4 1.11-2.14x. RGB at stride 2 (every lecture stem but VGG's, AlexNet's and
// LeNet's) with constant offsets.
template <int W>
inline __attribute__((always_inline)) void stem_rows_at(const float* x, const float* wpk, const float* bias,
                                                        const float* res, float* out, const Geometry& g,
                                                        Activation act, int64_t r0, int64_t r1) {
  const bool rgb_s2 = g.c == 3 && g.sw == 2;
#define CNNFAST_STEM_ROWS(P, KV)                                           \
  (rgb_s2 ? stem_rows<W, P, KV, 3, 2>(x, wpk, bias, res, out, g, act, r0, r1) \
          : stem_rows<W, P, KV, 0, 0>(x, wpk, bias, res, out, g, act, r0, r1))
  if constexpr (W == 16) {
    const int64_t vectors = g.kp / W;
    if (vectors <= 1) {
      CNNFAST_STEM_ROWS(16, 1);
    } else if (vectors == 2) {
      CNNFAST_STEM_ROWS(8, 2);
    } else if (vectors == 3) {
      CNNFAST_STEM_ROWS(4, 3);
    } else {
      CNNFAST_STEM_ROWS(4, 4);
    }
  } else {
    CNNFAST_STEM_ROWS(5, 2);
  }
#undef CNNFAST_STEM_ROWS
}

#define CNNFAST_STEM_ARGS                                                                                   \
  const float *x, const float *wpk, const float *bias, const float *res, float *out, const Geometry &g, \
      Activation act, int64_t r0, int64_t r1
#if CNNFAST_CPU_LEVELS
CNNFAST_TARGET_V4 void stem_level_v4(CNNFAST_STEM_ARGS) { stem_rows_at<16>(x, wpk, bias, res, out, g, act, r0, r1); }
CNNFAST_TARGET_V3 void stem_level_v3(CNNFAST_STEM_ARGS) { stem_rows_at<8>(x, wpk, bias, res, out, g, act, r0, r1); }
#endif
void stem_level_baseline(CNNFAST_STEM_ARGS) { stem_rows_at<4>(x, wpk, bias, res, out, g, act, r0, r1); }
#undef CNNFAST_STEM_ARGS

}  // namespace

bool stem_direct_can_run(const engine::ConvGeometry& geo) {
  return geo.groups == 1 && geo.c <= kStemMaxInputChannels && geo.k <= kStemMaxOutputChannels && geo.n > 0;
}

bool stem_direct_supported(const engine::ConvGeometry& geo, bool avx512) {
  // Where it pays, against oneDNN through ATen (every conv of the lecture models with <= 4 input
  // and <= 64 output channels, batch 1 and 8, bias + ReLU, 2 threads, AMD EPYC Zen 4, 2026-12-04,
  // `benchmarks/conv_engine_layers.py --stems`, benchmarks/results/cpu_stem_layers.md): RGB at
  // stride 2 onto whole 16-lane blocks took 0.70-0.93x of its time (MobileNetV3's 3->16 3x3 at
  // batch 1 122 vs 174 us, EfficientNet's 3->32 137 vs 179, Inception-v3's 3->32 on 299x299 0.71-0.81x,
  // the ResNet/GoogLeNet 3->64 7x7 0.89-0.93x). Elsewhere it was even or slower: ShuffleNet's 24
  // channels leave half a vector idle (1.07-1.17x), VGG's stride 1 and AlexNet's stride 4 run
  // without the constant-offset form (0.96-1.01x), LeNet's one channel at batch 8 1.25x.
  // The AVX2 build (5 pixels x 2 vectors, stem_rows_at) against oneDNN's AVX2 kernels, on the same
  // layers (Zen 4 with ONEDNN_MAX_CPU_ISA=AVX2, 2026-12-07, benchmarks/results/cpu_stem_layers_avx2.md):
  // the same rule holds there, these layers 0.76-1.02x of its time, ShuffleNet's 24 channels
  // 1.06-1.19x. AlexNet's stride 4 is 0.84x there (and 0.80-0.88x measured again on 2026-12-08),
  // so without AVX-512 the rule takes it too: against ONNX Runtime's AVX2 kernels it was
  // 1.27-1.48x (cnnfast profile --as-avx2, benchmarks/results/cpu_layer_profile_alexnet_as_avx2.md).
  if (!stem_direct_can_run(geo) || geo.c != 3 || geo.k % 16 != 0) return false;
  return (geo.sh == 2 && geo.sw == 2) || (!avx512 && geo.sh == 4 && geo.sw == 4);
}

at::Tensor stem_conv_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                         at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                         const std::optional<at::Tensor>& residual, Activation act, at::IntArrayRef out_shape) {
  const int64_t k = weight.size(0), kp = round_up<int64_t>(k, 16);  // whole vectors at every level
  const Geometry g{x.size(1), k, kp, x.size(2), x.size(3), out_shape[2], out_shape[3], weight.size(2),
                   weight.size(3), stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]};
  // (K, C, R, S) -> (R, S, C, K padded to 16), packed once per weight (one layout for every level).
  const at::Tensor wpk = prepacked_weight(weight, PackedLayout::Stem, 0, [kp](const at::Tensor& wt) {
    return at::constant_pad_nd(wt.permute({2, 3, 1, 0}), {0, kp - wt.size(0)}).contiguous();
  });
  const std::vector<float> b = padded_bias(bias, k, kp);
  DirectConvIo io(x, residual, act, out_shape);
  const float* xp = x.const_data_ptr<float>();
  const int64_t rows = out_shape[0] * g.oh;
  const int64_t row_macs = g.ow * kp * g.c * g.kh * g.kw;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, row_macs));
  const auto stem_level = CNNFAST_PICK_LEVEL(stem_level);
  at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    stem_level(xp, wpk.const_data_ptr<float>(), b.data(), io.residual, io.data, g, io.store_act, r0, r1);
  });
  return io.out;
}

}  // namespace cnnfast
