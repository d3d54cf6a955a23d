// 16 floats as one value (common/vec_cpu.h), shared by the CPU kernels that are built per x86-64
// level as clones (common/cpu_clones.h): one zmm register in the AVX-512 clone. In the AVX2 and
// baseline clones GCC keeps such a value in memory (vec_cpu.h), which is why the routing rule
// leaves those kernels out on CPUs without AVX-512 (common/cpu_isa.h).
#pragma once

#include <cstdint>

#include "common/vec_cpu.h"

namespace cnnfast::vec16 {

constexpr int64_t kLanes = 16;

typedef vec::vf<16> vf;

inline __attribute__((always_inline)) vf load(const float* p) { return vec::load<vf>(p); }

inline __attribute__((always_inline)) void store(float* p, vf v) { vec::store(p, v); }

}  // namespace cnnfast::vec16
