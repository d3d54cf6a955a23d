// cpu_level and cpu_has_avx512 (see cpu_isa.h).
#include "common/cpu_isa.h"

#include <atomic>

namespace cnnfast {

namespace {

// The same tests the clones' resolver makes, so the rule and the clone that runs agree.
CpuLevel read_level() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return CpuLevel::V4;
  if (__builtin_cpu_supports("x86-64-v3")) return CpuLevel::V3;
#endif
  return CpuLevel::Baseline;
}

std::atomic<int> routed_as{-1}, level_cap{-1};

}  // namespace

bool cpu_has_avx512() {
  const int forced = routed_as.load(std::memory_order_relaxed);
  if (forced >= 0) return forced == 1;
  return cpu_own_level() == CpuLevel::V4;
}

CpuLevel cpu_own_level() {
  static const CpuLevel level = read_level();
  return level;
}

CpuLevel cpu_level() {
  const int cap = level_cap.load(std::memory_order_relaxed);
  const CpuLevel level = cpu_own_level();
  return cap >= 0 && cap < static_cast<int>(level) ? static_cast<CpuLevel>(cap) : level;
}

int set_kernel_level(int level) { return level_cap.exchange(level, std::memory_order_relaxed); }

int set_route_avx512(int avx512) { return routed_as.exchange(avx512, std::memory_order_relaxed); }

}  // namespace cnnfast
