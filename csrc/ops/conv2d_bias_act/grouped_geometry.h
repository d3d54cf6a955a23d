// The grouped kernels' view of a conv (grouped_conv_cpu.cpp for narrow groups, grouped_wide_cpu.cpp
// for groups of 16-64 channels): sizes in elements, channels_last fp32 input and output.
#pragma once

#include <cstdint>

namespace cnnfast {

struct GroupedGeometry {
  int64_t n, c, cp, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, gw;  // cp: C rounded up to 16; gw: group width
  int64_t row_w = 0;   // columns of a padded input row: the reads of whole pixel blocks
  int64_t pixels = 0;  // wide groups: output pixels per block (7 or 14)
  int64_t chunks = 1;  // wide groups: channel chunks a row is split into between threads
};

// Wide groups: the widest group (4 output vectors x 7 pixels of accumulators) and the most
// filter rows a task keeps.
constexpr int64_t kMaxWideGroup = 64;
constexpr int64_t kMaxWideFilterRows = 16;

}  // namespace cnnfast
