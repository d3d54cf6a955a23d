// Every activation of cnnfast's epilogue on a vector of floats (common/vec_cpu.h: 16 lanes, or 8
// in AVX2 builds), written once for the vector kernels (the conv engine's tile store, the direct
// convs' store, small_cnn): the transcendental ones (SiLU, sigmoid, tanh) through a vector exp, so
// no activation needs a second pass over the output. NaN stays NaN and +-Inf gives what eager
// PyTorch gives. Always inlined: each per-x86-level build of the caller gets it at its own level.
#pragma once

#include "cnnfast/activation.h"
#include "common/vec_cpu.h"

namespace cnnfast::vec {

// In every function here vf is the float vector type (vec::vf<16> or vec::vf<8>).

// e^r - 1 for |r| <= ln2 / 2 by its Taylor series to degree 8, without forming 1 + ...: exact
// to ~1 ulp relative where e^r - 1 itself would cancel.
template <class vf>
inline __attribute__((always_inline)) vf expm1_small(vf r) {
  const vf zero{};
  vf p = zero + (1.0f / 40320.0f);
  p = p * r + (1.0f / 5040.0f);
  p = p * r + (1.0f / 720.0f);
  p = p * r + (1.0f / 120.0f);
  p = p * r + (1.0f / 24.0f);
  p = p * r + (1.0f / 6.0f);
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r;
}

// e^x to within 2 ulp: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), e^r = 1 +
// expm1_small(r) (truncation < 1e-9 relative), times 2^n built in the exponent bits.
// Over ~88.72 it is +Inf, under ~-87.3 it is 0 (flushing the denormal range), NaN stays NaN.
template <class vf>
inline __attribute__((always_inline)) vf exp_vec(vf x) {
  using vi = int_of<vf>;
  const vf zero{};
  const vf hi = zero + 88.3762626647949f, lo = zero - 87.3365478515625f;
  vf xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  // Round x / ln2 to nearest with the 1.5 * 2^23 trick (|x / ln2| < 2^22 here).
  const vf magic = zero + 12582912.0f;
  const vf t = (xc * 1.44269504088896341f + magic) - magic;
  vf r = xc - t * 0.693359375f;
  r = r - t * -2.12194440e-4f;
  const vf p = expm1_small(r) + 1.0f;
  const vi n = __builtin_convertvector(t, vi);
  const vi bits = (n + 127) << 23;
  vf scale;
  __builtin_memcpy(&scale, &bits, sizeof(scale));
  vf y = p * scale;
  const vf inf = zero + __builtin_inff();
  y = x > hi ? inf : y;
  y = x < lo ? zero : y;
  return x != x ? x : y;
}

// SiLU, v / (1 + e^-v), in about 20 vector operations where the exp_vec form took ~30: on Zen 4
// each 512-bit operation costs about a cycle, and there SiLU was 15% of EfficientNet-B0's
// inference (64.6 ms with it at batch 8, 54.7 with ReLU in its place, alternated in one process).
// - e = e^-|v| lies in (0, 1] and cannot overflow, so one clamp serves: |v| is capped at 88, where
//   the range reduction's 2^n is 2^-127, whose bits (n + 127 = 0) are +0's, so e is exactly 0.
//   Eager's e^-v overflows to Inf below v = -88.7; both then give v * 0: -0, or NaN for -Inf
//   (between -88.7 and -87.7 eager gives a value under 1e-35 in magnitude, this -0). NaN's bits
//   compare above 88's: e = 0, and v itself carries the NaN out.
// - sigmoid(v) is 1 / (1 + e) for v >= 0 and e / (1 + e) below, so silu = (v < 0 ? v e : v) / (1 + e).
// - e^r on |r| <= ln2 / 2 by a degree-6 polynomial fitted for least maximum relative error
//   (0.73 ulp in float32 Horner form); r = -|v| - n ln2 with ln2 split in two (Cody-Waite), as in
//   exp_vec: one FMA with ln2 rounded to float would do where FMA exists, but the baseline clone
//   (and the sanitizer build) has none, and there n ln2's rounding cost 34 ulp.
// Within 3 ulp of the exact value over the float range (tests/ops/test_vec_activation.py).
template <class vf>
inline __attribute__((always_inline)) vf silu_vec(vf v) {
  using vi = int_of<vf>;
  const vf zero{};
  vi bits;
  __builtin_memcpy(&bits, &v, sizeof(bits));
  const vi cap = vi{} + 0x42b00000;  // the bits of 88.0f
  vi abits = bits & 0x7fffffff;
  abits = abits < cap ? abits : cap;
  vf a;
  __builtin_memcpy(&a, &abits, sizeof(a));
  // tm = 1.5 * 2^23 + 127 + round(-a / ln2): adding 1.5 * 2^23 rounds to an integer, and the low
  // bits of tm's representation are then n + 127 (0..127), the biased exponent of 2^n.
  const vf shift = zero + (12582912.0f + 127.0f);
  const vf tm = a * -1.44269504088896341f + shift;
  const vf n = tm - shift;
  vf r = n * -0.693359375f - a;  // exact: ln2's high part has 9 bits, n 8
  r = r - n * -2.12194440e-4f;     // and its low part
  vf p = zero + 0.0013752540107816458f;
  p = p * r + 0.00836891308426857f;
  p = p * r + 0.041669514030218124f;
  p = p * r + 0.166665181517601f;
  p = p * r + 0.49999988079071045f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  vi sbits;
  __builtin_memcpy(&sbits, &tm, sizeof(sbits));
  sbits = sbits << 23;
  vf scale;
  __builtin_memcpy(&scale, &sbits, sizeof(scale));
  const vf e = p * scale;
  const vf num = v < zero ? v * e : v;
  return num / (e + 1.0f);
}

template <Activation A, class vf>
inline __attribute__((always_inline)) vf activate_vec(vf v) {
  const vf zero{}, one = zero + 1.0f, three = zero + 3.0f, six = zero + 6.0f;
  if constexpr (A == Activation::ReLU) {
    return v < zero ? zero : v;  // keeps NaN, as torch.relu does
  } else if constexpr (A == Activation::ReLU6) {
    return v < zero ? zero : (v > six ? six : v);
  } else if constexpr (A == Activation::HardSwish) {
    // Times 1/6 rather than eager's / 6 (within 1 ulp of it): a 512-bit divide costs several
    // cycles on Zen 4, and with it MobileNetV3's depthwise convs at batch 8 ran 5-22% behind
    // oneDNN's, whose post-op multiplies.
    vf r = v + three;
    r = r < zero ? zero : (r > six ? six : r);
    return v * r * (1.0f / 6.0f);
  } else if constexpr (A == Activation::HardSigmoid) {
    vf r = v + three;
    r = r < zero ? zero : (r > six ? six : r);
    return r * (1.0f / 6.0f);
  } else if constexpr (A == Activation::SiLU) {
    return silu_vec(v);
  } else if constexpr (A == Activation::Sigmoid) {
    return one / (one + exp_vec(zero - v));
  } else if constexpr (A == Activation::Tanh) {
    // tanh|v| = 1 - 2 / (e^2|v| + 1), sign restored; +-Inf -> +-1, NaN kept by exp_vec. Under
    // |v| = ln2 / 4 that form cancels, so there tanh = m / (m + 2) with m = e^2|v| - 1 from its
    // series (no 1 + ... - 1), to within 2 ulp relative down to the denormals.
    const vf a = v < zero ? zero - v : v;
    const vf large = one - (one + one) / (exp_vec(a + a) + one);
    const vf m = expm1_small(a + a);
    const vf small = m / (m + one + one);
    const vf t = a < zero + 0.17328679513998632f ? small : large;
    return v < zero ? zero - t : t;
  } else {
    return v;
  }
}

}  // namespace cnnfast::vec
