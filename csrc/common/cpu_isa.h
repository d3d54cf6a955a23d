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

// For tests and benchmarks: route as if the CPU had AVX-512 (1) or not (0); -1: the running CPU's.
// Process-wide and atomic, like the route vendor; returns the previous setting.
int set_route_avx512(int avx512);

}  // namespace cnnfast
