// Per-level builds of a kernel whose register blocks differ per x86-64 level. A clone
// (cpu_clones.h) is the same source at another level, so its blocks are the same size: blocks
// sized for AVX-512's 32 vector registers spill on AVX2's 16 (a 16-float vector is one zmm but two
// ymm). Such a kernel is written as an always-inlined template on its register budget, built
// once per level with CNNFAST_TARGET_V4 / CNNFAST_TARGET_V3 on one instantiation each, and
// picked at run time with cpu_level() (common/cpu_isa.h). CNNFAST_CPU_LEVELS says whether those
// builds exist: not under sanitizers, nor with -DCNNFAST_CPU_CLONES=OFF, as for the clones.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(CNNFAST_NO_CPU_CLONES)
#define CNNFAST_CPU_LEVELS 1
#define CNNFAST_TARGET_V4 __attribute__((target("arch=x86-64-v4")))
#define CNNFAST_TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#else
#define CNNFAST_CPU_LEVELS 0
#endif
