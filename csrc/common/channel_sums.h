// Per-channel sums of a conv's output, taken by the conv kernel itself: each task adds the block
// of output pixels it has just stored (still in L1/L2) into its thread's partial sums, so the
// squeeze of a squeeze-and-excitation block needs no pass of its own over the map (which, for a
// map larger than L2 or at batch 8, comes back from L3 or memory). conv2d_bias_act_mean's CPU
// kernel owns one and hands it to the routed kernel.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace cnnfast {

class ChannelSums {
 public:
  // n images of c channels, hw output pixels each; one partial row per image for each of
  // `threads` threads (at::get_num_threads() where the kernel's parallel_for will run).
  ChannelSums(int64_t n, int64_t c, int64_t hw, int64_t threads);

  // Adds output pixels [p0, p0 + count) (numbered across images, row-major), channels
  // [c0, c0 + nc), into the calling thread's partials. out points at pixel p0's channel c0, and
  // pixels lie `pitch` floats apart (a dense channels_last output: pitch = c). Call it once for
  // every output element, after that element's final store.
  void add(int64_t p0, int64_t count, const float* out, int64_t pitch, int64_t c0, int64_t nc);

  // The calling thread's partial sums of image img (c floats), for a kernel that adds each value
  // from its register as it stores it.
  float* partial(int64_t img);

  // All partials back to zero: a kernel that gives up part way (the Winograd form meeting a NaN)
  // and recomputes the output from scratch.
  void clear();

  // Set by the conv dispatcher when it hands these to a kernel that fills them; left false where
  // the routed kernel cannot (then the caller squeezes the output itself).
  bool filled = false;

  // The means over each image's hw pixels, (n, c) fp32: the threads' partials added in thread
  // order (deterministic for a given thread count), then divided by hw as se_squeeze does.
  at::Tensor means() const;

  // What a *_mean op returns for its output `out`: means() where a kernel filled these, else
  // se_squeeze(out) (the kernel the conv was routed to could not sum as it stored).
  at::Tensor means_of(const at::Tensor& out) const;

 private:
  int64_t n_, c_, hw_, threads_;
  std::vector<float> partial_;  // threads x n x c
};

}  // namespace cnnfast
