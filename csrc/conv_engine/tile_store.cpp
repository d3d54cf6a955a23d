// store_tile (see tile_store.h), built per x86-64 level on that level's vector width
// (common/cpu_levels.h): 16 channels per vector operation with AVX-512, 8 with AVX2, 4 below. (A
// 16-lane clone ran its vectors through the stack on AVX2: see the commit.)
#include "conv_engine/tile_store.h"

#include "common/channel_sums.h"
#include "common/cpu_levels.h"
#include "common/vec_activation.h"
#include "common/vec_cpu.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // acc + bias + res rounded as eager's separate adds
#endif

namespace cnnfast::engine {

using vec::activate_vec;

namespace {

// kSums: also add each stored value into d.sums (a template parameter, so the plain store keeps
// its loop without a per-vector test). W: the vector's lanes.
template <int W, Activation A, bool kSums>
inline __attribute__((always_inline)) void store_rows(const float* __restrict__ acc, int64_t ld, int64_t m0,
                                                      int64_t rows, int64_t ho, int64_t wo, int64_t nc,
                                                      const float* __restrict__ bias, const TileDest& d) {
  using vf = vec::vf<W>;
  constexpr int kLanes = W;
  const auto load = [](const float* p) __attribute__((always_inline)) { return vec::load<vf>(p); };
  const int64_t full = nc / kLanes * kLanes;
  int64_t img = m0 / (ho * wo), oh = m0 % (ho * wo) / wo, ow = m0 % wo;
  float* sum = kSums ? d.sums->partial(img) + d.channel : nullptr;  // this image's, this thread's
  for (int64_t i = 0; i < rows; ++i) {
    const float* a = acc + i * ld;
    float* o = d.out + img * d.out_image + oh * d.out_row + ow * d.out_pixel;
    const float* r = d.res ? d.res + img * d.res_image + oh * d.res_row + ow * d.res_pixel : nullptr;
    for (int64_t c = 0; c < full; c += kLanes) {
      vf v = load(a + c) + load(bias + c);
      if (r) v += load(r + c);
      v = activate_vec<A>(v);
      vec::store(o + c, v);
      if constexpr (kSums) vec::store(sum + c, load(sum + c) + v);
    }
    if (full < nc) {  // channel tail: through a vector-sized row, never past nc in out or res
      alignas(64) float t[kLanes];
      const int64_t n = nc - full;
      vf v = load(a + full) + load(bias + full);
      if (r) {
        alignas(64) float rr[kLanes] = {};
        for (int64_t c = 0; c < n; ++c) rr[c] = r[full + c];
        v += load(rr);
      }
      vec::store(t, activate_vec<A>(v));
      for (int64_t c = 0; c < n; ++c) o[full + c] = t[c];
      if constexpr (kSums) {
        for (int64_t c = 0; c < n; ++c) sum[full + c] += t[c];
      }
    }
    if (++ow == wo) {
      ow = 0;
      if (++oh == ho) {
        oh = 0;
        ++img;
        if (kSums && i + 1 < rows) sum = d.sums->partial(img) + d.channel;
      }
    }
  }
}

template <int W, bool kSums>
inline __attribute__((always_inline)) void store_act(const float* acc, int64_t ld, int64_t m0, int64_t rows, int64_t ho,
                                                     int64_t wo, int64_t nc, const float* bias, const TileDest& d,
                                                     Activation act) {
  switch (act) {
    case Activation::None: store_rows<W, Activation::None, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::ReLU: store_rows<W, Activation::ReLU, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::ReLU6: store_rows<W, Activation::ReLU6, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::SiLU: store_rows<W, Activation::SiLU, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::Sigmoid: store_rows<W, Activation::Sigmoid, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::HardSwish: store_rows<W, Activation::HardSwish, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::HardSigmoid:
      store_rows<W, Activation::HardSigmoid, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d);
      break;
    case Activation::Tanh: store_rows<W, Activation::Tanh, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
  }
}

template <int W>
inline __attribute__((always_inline)) void store_tile_at(const float* acc, int64_t ld, int64_t m0, int64_t rows,
                                                         int64_t ho, int64_t wo, int64_t nc, const float* bias,
                                                         const TileDest& dest, Activation act) {
  if (dest.sums) {
    store_act<W, true>(acc, ld, m0, rows, ho, wo, nc, bias, dest, act);
  } else {
    store_act<W, false>(acc, ld, m0, rows, ho, wo, nc, bias, dest, act);
  }
}

#define CNNFAST_STORE_TILE_ARGS                                                                                 \
  const float *acc, int64_t ld, int64_t m0, int64_t rows, int64_t ho, int64_t wo, int64_t nc, const float *bias, \
      const TileDest &dest, Activation act
#if CNNFAST_CPU_LEVELS
CNNFAST_TARGET_V4 void store_tile_v4(CNNFAST_STORE_TILE_ARGS) {
  store_tile_at<16>(acc, ld, m0, rows, ho, wo, nc, bias, dest, act);
}

CNNFAST_TARGET_V3 void store_tile_v3(CNNFAST_STORE_TILE_ARGS) {
  store_tile_at<8>(acc, ld, m0, rows, ho, wo, nc, bias, dest, act);
}
#endif

void store_tile_baseline(CNNFAST_STORE_TILE_ARGS) { store_tile_at<4>(acc, ld, m0, rows, ho, wo, nc, bias, dest, act); }
#undef CNNFAST_STORE_TILE_ARGS

}  // namespace

StoreTile store_tile_kernel() { return CNNFAST_PICK_LEVEL(store_tile); }

}  // namespace cnnfast::engine
