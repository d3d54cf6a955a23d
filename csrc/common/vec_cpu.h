// N floats as one value (GCC/Clang vector extension), for CPU kernels built per x86-64 level.
// Use the level's own register width: 16 lanes (one zmm) with AVX-512, 8 (one ymm) with AVX2. A
// vector wider than the level's registers is not kept in registers at all: GCC holds it in
// memory and moves its halves through the stack on every operation (the AVX2 clones of the
// 16-lane kernels, measured 2-30x slower than oneDNN: see common/cpu_levels.h).
// The helpers are always inlined, so each per-level build gets them at its own level.
#pragma once

#include <cstdint>

namespace cnnfast::vec {

template <int N>
struct Lanes {
  typedef float f __attribute__((vector_size(N * sizeof(float))));
  typedef int32_t i __attribute__((vector_size(N * sizeof(int32_t))));
};

// The float vector of N lanes, and the int32 vector as wide as a float vector V.
template <int N>
using vf = typename Lanes<N>::f;
template <class V>
constexpr int kLanesOf = sizeof(V) / sizeof(float);
template <class V>
using int_of = typename Lanes<kLanesOf<V>>::i;

// Unaligned load/store (memcpy: no alignment or aliasing assumption; compiles to one vmovups).
template <class V>
inline __attribute__((always_inline)) V load(const float* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}

template <class V>
inline __attribute__((always_inline)) void store(float* p, V v) {
  __builtin_memcpy(p, &v, sizeof(v));
}

}  // namespace cnnfast::vec
