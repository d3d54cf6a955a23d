// Which vendor's cores the process runs on, for the few kernel choices where Intel and AMD cores
// of the same ISA measured differently (the routing rule, csrc/conv_engine/route.cpp). Read once
// from CPUID at run time; a leaf with no ATen dependency.
#pragma once

namespace cnnfast {

enum class CpuVendor { Other = 0, Intel = 1, Amd = 2 };

// The running CPU's vendor (CPUID leaf 0), or what set_route_vendor put in its place.
CpuVendor cpu_vendor();

// For tests and benchmarks: route as if on this vendor's cores (-1: the running CPU's). Process-wide
// and atomic, like the forced conv path; returns the previous setting.
int set_route_vendor(int vendor);

const char* cpu_vendor_name(CpuVendor vendor);

}  // namespace cnnfast
