// conv1x1_depthwise_fuses (see fuse_rule.h).
#include "ops/conv1x1_depthwise/fuse_rule.h"

#include <algorithm>
#include <atomic>

namespace cnnfast {

namespace {

// What fusing saves is writing the 1x1 conv's output and reading it back (and one call); what it
// costs is the 1x1 conv run a row at a time, and rows two threads' windows share computed by both.
// Measured with the op forced each way, alternated in one process (AMD EPYC Zen 5, 2 threads,
// 2026-12-05; every 1x1 -> depthwise pair of MobileNetV3-L, EfficientNet-B0 and ShuffleNet V2,
// batch 1 / 8; `benchmarks/conv1x1_depthwise_pairs.py`, results/cpu_conv1x1_depthwise.md):
// - 112x112 and 56x56 maps: fused 0.83-0.92x / 0.74-0.93x the time (a 64 x 112 x 112 map is 3.2 MB,
//   past L2);
// - 28x28 maps, at batch 8 (each thread's task whole images): 0.85-1.01x with up to 256 channels;
//   at batch 1 0.92-1.08x (the row boundary between the two threads is computed twice);
// - 14x14: 0.98-1.23x at batch 1, 0.94-1.07x at batch 8 (wider layers lose: the 1x1 conv rereads
//   its weight for every 14-pixel row); 7x7: 1.24-1.77x.
// The same rule holds without AVX-512, where the 1x1 half runs on the direct 1x1 kernel's AVX2
// build (AMD EPYC Zen 4 run as an AVX2 machine: cnnfast's AVX2 builds, oneDNN capped with
// ONEDNN_MAX_CPU_ISA=AVX2, so the pairs apart ran on the engine's AVX2 microkernel and the
// depthwise kernel or oneDNN; 2026-12-07, results/cpu_conv1x1_depthwise_avx2.md): the pairs it
// fuses took 0.65-0.98x the time apart on 112x112 and 56x56 maps, 0.73-1.09x on 28x28 maps at
// batch 8 (ShuffleNet's two 1.01x and 1.09x); those it leaves apart 0.84-1.15x fused on 28x28 at
// batch 1, 0.83-1.16x on 14x14, 1.00-1.55x on 7x7. All pairs of a model under the rule against
// all apart: MobileNetV3-L 0.98x / 0.86x (batch 1 / 8), EfficientNet-B0 0.93x / 0.86x,
// ShuffleNet V2 0.98x / 1.01x.
constexpr int64_t kMinPixels = 56 * 56;
constexpr int64_t kMinPixelsWholeImages = 28 * 28;
constexpr int64_t kMaxChannelsWholeImages = 256;

std::atomic<int> forced{-1};

}  // namespace

int set_forced_conv1x1_depthwise(int mode) { return forced.exchange(mode); }

bool conv1x1_depthwise_fuses(const FuseQuery& q) {
  if (const int f = forced.load(std::memory_order_relaxed); f >= 0) return f == 1 && q.n > 0;
  if (q.n <= 0) return false;
  // Each thread's task is whole images: no row is computed twice.
  const bool whole_images = q.n % q.threads == 0;
  if (whole_images && q.h * q.w >= kMinPixelsWholeImages && q.c <= kMaxChannelsWholeImages) return true;
  if (q.h * q.w < kMinPixels) return false;
  // Rows computed twice, where a task boundary falls inside an image: at most an eighth.
  const int64_t shared = std::max<int64_t>(0, q.kh - q.sh) * (q.threads - 1);
  return whole_images || shared * 8 <= q.n * q.h;
}

}  // namespace cnnfast
