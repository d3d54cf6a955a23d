// Whether the running CPU has AVX-512, for the routing rule (csrc/conv_engine/route.cpp): cnnfast's
// direct conv kernels hold their accumulators as 16-float vectors in register blocks sized for
// AVX-512's 32 zmm registers. Their AVX2 clones (cpu_clones.h) run each vector as two of only 16
// ymm registers, spill, and measured 10-30x slower than oneDNN's AVX2 kernels, so on such CPUs
// the rule leaves them out. A leaf with no ATen dependency; read once at run time.
#pragma once

namespace cnnfast {

// The x86-64-v4 level (AVX-512 F/BW/CD/DQ/VL) that the widest clones are built for, or what
// set_route_avx512 put in its place.
bool cpu_has_avx512();

// The x86-64 level whose per-level build of a kernel runs (common/cpu_levels.h): the running
// CPU's, read once, or a lower one under set_kernel_level. set_route_avx512 does not change it.
enum class CpuLevel { Baseline = 0, V3 = 1, V4 = 2 };
CpuLevel cpu_level();

// The running CPU's own level (the highest build it can execute), read once.
CpuLevel cpu_own_level();

// For tests: run the per-level builds at most at this level (0 baseline, 1 AVX2, 2 AVX-512; -1 the
// CPU's own), so every build this CPU can execute is checked on it. Never above the CPU's level.
// Process-wide and atomic; returns the previous setting.
int set_kernel_level(int level);

// For tests and benchmarks: route as if the CPU had AVX-512 (1) or not (0); -1: the running CPU's.
// Process-wide and atomic, like the route vendor; returns the previous setting.
int set_route_avx512(int avx512);

}  // namespace cnnfast
