// ChannelSums (see channel_sums.h).
#include "common/channel_sums.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>

#include "cnnfast/ops.h"
#include "common/row_sums_cpu.h"

namespace cnnfast {

ChannelSums::ChannelSums(int64_t n, int64_t c, int64_t hw, int64_t threads)
    : n_(n), c_(c), hw_(hw), threads_(std::max<int64_t>(1, threads)),
      partial_(static_cast<size_t>(threads_ * n * c), 0.0f) {}

float* ChannelSums::partial(int64_t img) {
  const int64_t t = at::get_thread_num();
  TORCH_INTERNAL_ASSERT(t < threads_ && img < n_, "ChannelSums: thread ", t, " image ", img, " out of range");
  return partial_.data() + (t * n_ + img) * c_;
}

void ChannelSums::add(int64_t p0, int64_t count, const float* out, int64_t pitch, int64_t c0, int64_t nc) {
  // A block may span images (the 1x1 kernel's tasks number pixels across them).
  while (count > 0) {
    const int64_t img = p0 / hw_, run = std::min(count, (img + 1) * hw_ - p0);
    add_rows_f32(partial(img) + c0, out, run, pitch, nc);
    p0 += run, count -= run, out += run * pitch;
  }
}

void ChannelSums::clear() { std::fill(partial_.begin(), partial_.end(), 0.0f); }

at::Tensor ChannelSums::means() const {
  at::Tensor m = at::empty({n_, c_}, at::TensorOptions().dtype(at::kFloat));
  float* dst = m.mutable_data_ptr<float>();
  const float hw = static_cast<float>(hw_);
  for (int64_t i = 0; i < n_ * c_; ++i) {
    float s = partial_[i];
    for (int64_t t = 1; t < threads_; ++t) s += partial_[t * n_ * c_ + i];
    dst[i] = s / hw;
  }
  return m;
}

at::Tensor ChannelSums::means_of(const at::Tensor& out) const { return filled ? means() : se_squeeze(out); }

}  // namespace cnnfast
