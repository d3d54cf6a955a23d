// store_tile (see tile_store.h), built per x86-64 level: 16 channels per vector operation.
#include "conv_engine/tile_store.h"

#include "common/channel_sums.h"
#include "common/cpu_clones.h"
#include "common/vec16_cpu.h"
#include "common/vec_activation.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")  // acc + bias + res rounded as eager's separate adds
#endif

namespace cnnfast::engine {

using vec::activate_vec;
using vec16::kLanes;
using vec16::vf;

namespace {

// kSums: also add each stored value into d.sums (a template parameter, so the plain store keeps
// its loop without a per-vector test).
template <Activation A, bool kSums>
inline __attribute__((always_inline)) void store_rows(const float* __restrict__ acc, int64_t ld, int64_t m0,
                                                      int64_t rows, int64_t ho, int64_t wo, int64_t nc,
                                                      const float* __restrict__ bias, const TileDest& d) {
  const int64_t full = nc / kLanes * kLanes;
  int64_t img = m0 / (ho * wo), oh = m0 % (ho * wo) / wo, ow = m0 % wo;
  float* sum = kSums ? d.sums->partial(img) + d.channel : nullptr;  // this image's, this thread's
  for (int64_t i = 0; i < rows; ++i) {
    const float* a = acc + i * ld;
    float* o = d.out + img * d.out_image + oh * d.out_row + ow * d.out_pixel;
    const float* r = d.res ? d.res + img * d.res_image + oh * d.res_row + ow * d.res_pixel : nullptr;
    for (int64_t c = 0; c < full; c += kLanes) {
      vf v = vec16::load(a + c) + vec16::load(bias + c);
      if (r) v += vec16::load(r + c);
      v = activate_vec<A>(v);
      vec16::store(o + c, v);
      if constexpr (kSums) vec16::store(sum + c, vec16::load(sum + c) + v);
    }
    if (full < nc) {  // channel tail: through a vector-sized row, never past nc in out or res
      alignas(64) float t[kLanes];
      const int64_t n = nc - full;
      vf v = vec16::load(a + full) + vec16::load(bias + full);
      if (r) {
        alignas(64) float rr[kLanes] = {};
        for (int64_t c = 0; c < n; ++c) rr[c] = r[full + c];
        v += vec16::load(rr);
      }
      vec16::store(t, activate_vec<A>(v));
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

template <bool kSums>
inline __attribute__((always_inline)) void store_act(const float* acc, int64_t ld, int64_t m0, int64_t rows, int64_t ho,
                                                     int64_t wo, int64_t nc, const float* bias, const TileDest& d,
                                                     Activation act) {
  switch (act) {
    case Activation::None: store_rows<Activation::None, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::ReLU: store_rows<Activation::ReLU, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::ReLU6: store_rows<Activation::ReLU6, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::SiLU: store_rows<Activation::SiLU, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::Sigmoid: store_rows<Activation::Sigmoid, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::HardSwish: store_rows<Activation::HardSwish, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
    case Activation::HardSigmoid:
      store_rows<Activation::HardSigmoid, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d);
      break;
    case Activation::Tanh: store_rows<Activation::Tanh, kSums>(acc, ld, m0, rows, ho, wo, nc, bias, d); break;
  }
}

}  // namespace

CNNFAST_CPU_CLONES void store_tile(const float* acc, int64_t ld, int64_t m0, int64_t rows, int64_t ho, int64_t wo, int64_t nc,
                                   const float* bias, const TileDest& dest, Activation act) {
  if (dest.sums) {
    store_act<true>(acc, ld, m0, rows, ho, wo, nc, bias, dest, act);
  } else {
    store_act<false>(acc, ld, m0, rows, ho, wo, nc, bias, dest, act);
  }
}

}  // namespace cnnfast::engine
