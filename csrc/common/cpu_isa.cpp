// cpu_has_avx512 (see cpu_isa.h).
#include "common/cpu_isa.h"

#include <atomic>

namespace cnnfast {

namespace {

bool read_avx512() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // The same test the clones' resolver makes, so the rule and the clone that runs agree.
  __builtin_cpu_init();
  return __builtin_cpu_supports("x86-64-v4");
#else
  return false;
#endif
}

std::atomic<int> routed_as{-1};

}  // namespace

bool cpu_has_avx512() {
  const int forced = routed_as.load(std::memory_order_relaxed);
  if (forced >= 0) return forced == 1;
  static const bool running = read_avx512();
  return running;
}

int set_route_avx512(int avx512) { return routed_as.exchange(avx512, std::memory_order_relaxed); }

}  // namespace cnnfast
