// Cache of oneDNN-reordered conv weights; entries die with the weight tensor they were made from.
#include "common/prepacked_weights.h"

#include <ATen/ATen.h>
#include <c10/util/intrusive_ptr.h>

#include <array>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace cnnfast {

namespace {

using WeakImpl = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;
// padding, stride, dilation, groups, 4-D input size: a fixed array, so a cache hit (every call
// after the first) allocates nothing.
using Params = std::array<int64_t, 11>;

struct Entry {
  WeakImpl owner;
  const void* data = nullptr;
  int64_t version = 0;
  Params params;
  at::Tensor packed;
};

// A weight used at a few input sizes (batch 1 and 8, say) keeps one packed copy per size;
// past this many, the oldest is dropped so the cache cannot grow without bound.
constexpr size_t kMaxEntriesPerWeight = 4;

std::mutex g_mutex;
std::unordered_map<const c10::TensorImpl*, std::vector<Entry>> g_cache;
size_t g_inserts_since_sweep = 0;

int64_t version_of(const at::Tensor& t) {
  // Inference tensors carry no version counter; their storage pointer still guards replacement.
  return t.is_inference() ? -1 : static_cast<int64_t>(t._version());
}

void sweep_dead_weights() {
  for (auto it = g_cache.begin(); it != g_cache.end();) {
    if (it->second.empty() || it->second.front().owner.expired()) {
      it = g_cache.erase(it);
    } else {
      ++it;
    }
  }
}

// The cached copy of `weight` for `params`, made by `pack` on a miss.
at::Tensor lookup_or_pack(const at::Tensor& weight, const Params& params,
                          const std::function<at::Tensor(const at::Tensor&)>& pack) {
  const void* data = weight.data_ptr();
  const int64_t version = version_of(weight);
  const c10::TensorImpl* key = weight.unsafeGetTensorImpl();

  std::lock_guard<std::mutex> lock(g_mutex);
  auto& entries = g_cache[key];
  // A dead owner means this address now belongs to a different tensor: forget everything.
  if (!entries.empty() && entries.front().owner.expired()) entries.clear();
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->data == data && it->version == version && it->params == params) return it->packed;
    if (it->data != data || it->version != version) {
      entries.clear();  // the weight was modified or re-pointed: every packed copy is stale
      break;
    }
  }
  at::Tensor packed = pack(weight);
  if (entries.size() >= kMaxEntriesPerWeight) entries.erase(entries.begin());
  entries.push_back(Entry{WeakImpl(weight.getIntrusivePtr()), data, version, params, packed});
  if (++g_inserts_since_sweep >= 64) {
    g_inserts_since_sweep = 0;
    sweep_dead_weights();
  }
  return packed;
}

}  // namespace

at::Tensor prepacked_conv2d_weight(const at::Tensor& weight, at::IntArrayRef padding,
                                   at::IntArrayRef stride, at::IntArrayRef dilation,
                                   int64_t groups, at::IntArrayRef input_size) {
  TORCH_CHECK(input_size.size() == 4, "prepacked_conv2d_weight: input_size must be 4-D");
  const Params params{padding[0], padding[1], stride[0], stride[1], dilation[0], dilation[1], groups,
                      input_size[0], input_size[1], input_size[2], input_size[3]};
  return lookup_or_pack(weight, params, [&](const at::Tensor& w) {
    return at::mkldnn_reorder_conv2d_weight(w.contiguous().to_mkldnn(), padding, stride, dilation, groups,
                                            input_size);
  });
}

at::Tensor prepacked_weight(const at::Tensor& weight, PackedLayout layout, int64_t variant,
                            const std::function<at::Tensor(const at::Tensor&)>& pack) {
  // A negative first entry never matches a conv's padding, so the two kinds of entry cannot mix.
  const Params params{-1 - static_cast<int64_t>(layout), variant, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  return lookup_or_pack(weight, params, pack);
}

int64_t prepacked_conv2d_weight_count() {
  std::lock_guard<std::mutex> lock(g_mutex);
  sweep_dead_weights();
  int64_t n = 0;
  for (const auto& kv : g_cache) n += static_cast<int64_t>(kv.second.size());
  return n;
}

}  // namespace cnnfast
