// cpu_vendor (see cpu_vendor.h).
#include "common/cpu_vendor.h"

#include <atomic>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace cnnfast {

namespace {

CpuVendor read_vendor() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return CpuVendor::Other;
  char id[13] = {};
  std::memcpy(id, &ebx, 4), std::memcpy(id + 4, &edx, 4), std::memcpy(id + 8, &ecx, 4);
  if (std::strcmp(id, "GenuineIntel") == 0) return CpuVendor::Intel;
  if (std::strcmp(id, "AuthenticAMD") == 0) return CpuVendor::Amd;
#endif
  return CpuVendor::Other;
}

std::atomic<int> routed_as{-1};

}  // namespace

CpuVendor cpu_vendor() {
  const int forced = routed_as.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<CpuVendor>(forced);
  static const CpuVendor running = read_vendor();
  return running;
}

int set_route_vendor(int vendor) { return routed_as.exchange(vendor, std::memory_order_relaxed); }

const char* cpu_vendor_name(CpuVendor vendor) {
  switch (vendor) {
    case CpuVendor::Intel: return "intel";
    case CpuVendor::Amd: return "amd";
    case CpuVendor::Other: return "other";
  }
  return "?";
}

}  // namespace cnnfast
