// 16 floats as one value (GCC/Clang vector extension), shared by the CPU kernels that are built
// per x86-64 level (common/cpu_clones.h): one zmm register in the AVX-512 clone, two ymm or four
// xmm in the others. The helpers are always inlined, so each clone gets them at its own level.
#pragma once

#include <cstdint>

namespace cnnfast::vec16 {

constexpr int64_t kLanes = 16;

typedef float vf __attribute__((vector_size(kLanes * sizeof(float))));

// Unaligned load/store (memcpy: no alignment or aliasing assumption; compiles to one vmovups).
inline __attribute__((always_inline)) vf load(const float* p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}

inline __attribute__((always_inline)) void store(float* p, vf v) { __builtin_memcpy(p, &v, sizeof(v)); }

}  // namespace cnnfast::vec16
