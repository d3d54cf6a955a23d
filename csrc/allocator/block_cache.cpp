// The block cache (see block_cache.h).
//
// Why: at batch 8 a forward pass makes activations of 25-100 MB (VGG-16's first layers: 8 x 64 x
// 224 x 224 floats = 103 MB). glibc serves blocks above its mmap threshold (adaptive, at most
// 32 MB) with a fresh mmap and unmaps them on free, so such a tensor is page-faulted in and zeroed
// by the kernel on every call: measured here, VGG-16's 3 -> 64 conv at batch 8 took 31 ms instead
// of 6.6 ms and its 64 -> 64 conv 89 ms instead of 62 ms. Raising glibc's thresholds (mallopt)
// removes the faults but fragments its heap (posix_memalign asks for 96 bytes more than the block
// it freed, and small allocations fill the gaps): 8 rounds of one 96 MB tensor grew the heap to
// 880 MB. ONNX Runtime and OpenVINO keep their own arenas for this; this is the same idea at the
// allocator PyTorch already calls: same-size blocks are handed back without touching the system.
//
// Only blocks of >= 256 KB are this allocator's own; smaller requests get c10's default allocator's
// DataPtr unchanged. Its deleter (free_block) is also what raw_deallocate() calls (ideep frees
// oneDNN buffers that way, possibly ones allocated before this allocator was installed), so it
// must take any pointer: the ones it handed out are looked up in a table of live large blocks,
// anything else goes to c10::free_cpu, as c10's default allocator would do.
#include "allocator/block_cache.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include "common/math.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace cnnfast::block_cache {

namespace {

// Smaller blocks go to glibc. Between 256 KB and 1 MB glibc reuses them too, until a free trims
// the heap or a block lands above its adaptive mmap threshold: then every call faults its pages in
// afresh (measured: MobileNetV3 batch 1 in some processes 288 faults and 2.86 ms per call against
// 0 and 2.3 ms; none with these blocks cached, in every process tried).
constexpr size_t kMinCached = size_t{256} << 10;
constexpr size_t kSizeClass = size_t{64} << 10;  // rounded up to 64 KB: <= 25% waste at 256 KB
constexpr uint8_t kPriority = 1;                 // above c10's default CPU allocator (0)
// A request first looks at the last few blocks freed and takes the most recent one of its size
// class up to twice it, before any older block of its own class: the block a layer's input or a
// dead activation just left is still in L2/L3, and an output written there costs no read of
// cold memory (a store to a cold line reads it first). In a forward pass the exact class's own
// free block is usually the same layer's output from the previous call, long evicted. Measured
// (Intel Xeon, 2 threads, 2026-12-06, the two rules alternated call by call in one process, batch
// 1 / 8): RegNetY-400MF 0.991x / 0.979x the time, MobileNetV3-L 0.985x / 0.976x, EfficientNet-B0
// 0.981x / 0.976x, GoogLeNet 0.976x / 0.967x, DenseNet-121 0.963x / 0.981x, Inception-v3
// 0.973x / 0.986x, ResNet-50 and ResNeXt-50 0.996-1.000x
// (benchmarks/results/cpu_block_cache_recent_intel.md). Up to twice the request: at most half a
// block idle.
constexpr size_t kRecentBlocks = 16;

struct Block {
  size_t size;       // its size class
  size_t requested;  // bytes asked for
  bool reported;     // its allocation was reported to torch.profiler, so its free is too
};

size_t size_class(size_t n) { return round_up(n, kSizeClass); }

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // size class -> blocks, last freed last
  std::vector<std::pair<void*, size_t>> recent;                 // the last kRecentBlocks freed, last freed last
  std::unordered_map<void*, Block> live;                       // large blocks handed out
  size_t cached_bytes = 0;
  std::atomic<size_t> max_cached_bytes{static_cast<size_t>(kDefaultMaxCachedBytes)};
  int64_t hits = 0, misses = 0;
  std::atomic<bool> enabled{false};
  std::atomic<int64_t> live_bytes{0};  // for torch.profiler's memory events (profile_memory=True)
  c10::Allocator* previous = nullptr;  // c10's default allocator: small blocks, and restored on uninstall
  std::mutex install_mutex;            // install/uninstall against each other (SetCPUAllocator is not atomic with the check)
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors freed at exit still return here
  return *c;
}

// Empties the cache's lists (caller holds the lock) and returns the blocks to free outside it.
std::vector<void*> take_all(Cache& c) {
  std::vector<void*> blocks;
  for (auto& kv : c.free_blocks) blocks.insert(blocks.end(), kv.second.begin(), kv.second.end());
  c.free_blocks.clear();
  c.recent.clear();
  c.cached_bytes = 0;
  return blocks;
}

// The memory events that c10's own CPU allocator sends to torch.profiler, so that
// profile_memory=True (and benchmarks/peak_memory.py) still see every tensor.
void report(Cache& c, void* data, const Block& b, bool alloc) {
  const int64_t delta = alloc ? static_cast<int64_t>(b.requested) : -static_cast<int64_t>(b.requested);
  const int64_t live = c.live_bytes.fetch_add(delta) + delta;
  c10::reportMemoryUsageToProfiler(data, delta, static_cast<size_t>(live), static_cast<size_t>(live),
                                   c10::Device(c10::DeviceType::CPU));
}

void free_block(void* const ptr) {
  Cache& c = cache();
  void* data = ptr;  // still to free to the system; null once kept
  Block b{};
  std::vector<void*> evicted;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.live.find(data);
    if (it == c.live.end()) {
      c10::free_cpu(data);  // not one of ours (see the top of this file)
      return;
    }
    b = it->second;
    c.live.erase(it);
    if (b.size <= c.max_cached_bytes && c.enabled.load(std::memory_order_relaxed)) {
      // Over the cap: the cache holds sizes the current work no longer asks for (another model,
      // another batch size), so all of it goes back and this block starts the new working set.
      if (c.cached_bytes + b.size > c.max_cached_bytes) evicted = take_all(c);
      c.free_blocks[b.size].push_back(data);
      c.recent.emplace_back(data, b.size);
      if (c.recent.size() > kRecentBlocks) c.recent.erase(c.recent.begin());
      c.cached_bytes += b.size;
      data = nullptr;
    }
  }
  if (b.reported && c10::memoryProfilingEnabled()) report(c, ptr, b, /*alloc=*/false);
  for (void* block : evicted) c10::free_cpu(block);
  if (data != nullptr) c10::free_cpu(data);
}

// A cached block for a request of size class `size` (caller holds the lock), taken out of the
// lists: the most recently freed of the last few blocks whose class is `size` up to twice it,
// else the last freed of class `size`; null when there is none. Sets `size` to the block's class.
void* take_block(Cache& c, size_t& size) {
  for (size_t i = c.recent.size(); i-- > 0;) {
    const auto [data, block_size] = c.recent[i];
    if (block_size < size || block_size > 2 * size) continue;
    c.recent.erase(c.recent.begin() + static_cast<std::ptrdiff_t>(i));
    auto& same = c.free_blocks[block_size];
    same.erase(std::find(same.begin(), same.end(), data));
    size = block_size;
    return data;
  }
  auto it = c.free_blocks.find(size);
  if (it == c.free_blocks.end() || it->second.empty()) return nullptr;
  void* const data = it->second.back();
  it->second.pop_back();
  return data;  // not a recent one: the loop above takes any recent block of class `size`
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    Cache& c = cache();
    if (n < kMinCached) return c.previous->allocate(n);
    Block b{size_class(n), n, c10::memoryProfilingEnabled()};
    void* data = nullptr;
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      data = take_block(c, b.size);
      if (data != nullptr) {
        c.cached_bytes -= b.size;
        ++c.hits;
      } else {
        ++c.misses;
      }
    }
    if (data == nullptr) data = c10::alloc_cpu(b.size);
    {
      std::lock_guard<std::mutex> lock(c.mutex);
      c.live.emplace(data, b);
    }
    if (b.reported) report(c, data, b, /*alloc=*/true);
    return {data, data, &free_block, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &free_block; }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }
};

CachingCpuAllocator* the_allocator() {
  static CachingCpuAllocator* allocator = new CachingCpuAllocator();  // outlives every tensor
  return allocator;
}

}  // namespace

bool install(int64_t max_cached_bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> guard(c.install_mutex);
  if (max_cached_bytes >= 0) c.max_cached_bytes.store(static_cast<size_t>(max_cached_bytes));
  c10::Allocator* current = c10::GetCPUAllocator();
  if (current != the_allocator()) {
    // Only over c10's own allocator: free_block hands foreign pointers to c10::free_cpu, which is
    // right for its blocks and not for another custom allocator's.
    if (current != c10::GetDefaultCPUAllocator()) return false;
    c.previous = current;
    c10::SetCPUAllocator(the_allocator(), kPriority);
  }
  c.enabled.store(true);
  return true;
}

void uninstall() {
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> guard(c.install_mutex);
    if (c10::GetCPUAllocator() == the_allocator()) c10::SetCPUAllocator(c.previous, kPriority);
    c.enabled.store(false);
  }
  release();
}

Stats stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return {c.enabled.load(), static_cast<int64_t>(c.max_cached_bytes.load()), static_cast<int64_t>(c.cached_bytes),
          c.hits, c.misses};
}

void release() {
  Cache& c = cache();
  std::vector<void*> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    blocks = take_all(c);
  }
  for (void* block : blocks) c10::free_cpu(block);
}

}  // namespace cnnfast::block_cache
