// CNNFAST_CPU_CLONES: build a function once per x86-64 level (AVX-512, AVX2+FMA, baseline) and
// pick the clone for the running CPU at load time (GCC/Clang function multi-versioning), so one
// binary runs everywhere and still uses 512-bit vectors where they exist. Off under sanitizers and
// in CMake builds configured with -DCNNFAST_CPU_CLONES=OFF (CMakeLists.txt).
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(CNNFAST_NO_CPU_CLONES)
#define CNNFAST_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CNNFAST_CPU_CLONES
#endif
