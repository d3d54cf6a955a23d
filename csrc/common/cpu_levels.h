// Per-level builds of a kernel whose vectors differ per x86-64 level. A clone (cpu_clones.h) is
// the same source at another level, so its vectors are the same width: 16-float vectors built for
// AVX2 are not kept in registers at all (GCC holds a vector wider than the level's registers in
// memory and moves its halves through the stack; common/vec_cpu.h). Such a kernel is written as an
// always-inlined template on its vector lanes, built once per level under CNNFAST_TARGET_V4 /
// CNNFAST_TARGET_V3 (name_v4 on 16 lanes, name_v3 on 8) plus name_baseline (4 lanes, no target),
// and called through CNNFAST_PICK_LEVEL(name): the build for cpu_level() (common/cpu_isa.h).
// CNNFAST_CPU_LEVELS says whether the v4/v3 builds exist: not under sanitizers, nor with
// -DCNNFAST_CPU_CLONES=OFF, as for the clones; there name_baseline is the only one.
#pragma once

#include "common/cpu_isa.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(CNNFAST_NO_CPU_CLONES)
#define CNNFAST_CPU_LEVELS 1
#define CNNFAST_TARGET_V4 __attribute__((target("arch=x86-64-v4")))
#define CNNFAST_TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#define CNNFAST_PICK_LEVEL(name) ::cnnfast::pick_level(name##_v4, name##_v3, name##_baseline)
#else
#define CNNFAST_CPU_LEVELS 0
#define CNNFAST_PICK_LEVEL(name) (name##_baseline)
#endif

namespace cnnfast {

// One of a kernel's per-level builds (functions or tables of them), for the running level.
template <class Build>
Build pick_level(Build v4, Build v3, Build baseline) {
  switch (cpu_level()) {
    case CpuLevel::V4: return v4;
    case CpuLevel::V3: return v3;
    case CpuLevel::Baseline: break;
  }
  return baseline;
}

// The vector lanes of the build CNNFAST_PICK_LEVEL runs: 16, 8 or 4 (for sizes a kernel's caller
// must match to its build, such as its register block's pixels).
inline int level_lanes() { return CNNFAST_CPU_LEVELS ? pick_level(16, 8, 4) : 4; }

}  // namespace cnnfast
