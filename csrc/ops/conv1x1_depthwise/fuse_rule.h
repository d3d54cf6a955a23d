// When conv1x1_depthwise's CPU kernel fuses its two convs (the rule and its measurements:
// fuse_rule.cpp).
#pragma once

#include <cstdint>

namespace cnnfast {

// An fp32 channels_last 1x1 conv with an (n, c, h, w) output feeding a depthwise kh x kw conv at
// vertical stride sh, run on `threads` threads.
struct FuseQuery {
  int64_t n, h, w, c, kh, sh, threads;
};

// Whether the fused kernel runs it (else the two convs run as conv2d_bias_act calls): the rule, or
// the forced choice.
bool conv1x1_depthwise_fuses(const FuseQuery& q);

// For tests and benchmarks (cnnfast.config.force_conv1x1_depthwise): -1 the rule, 0 never fuse, 1
// fuse every pair the kernel can take (fp32 channels_last). Process-wide; returns the previous.
int set_forced_conv1x1_depthwise(int mode);

}  // namespace cnnfast
