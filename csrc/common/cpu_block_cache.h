// A CPU allocator that keeps freed large blocks for the next forward pass.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cnnfast {

// Install (enable) or uninstall the caching CPU allocator for the whole process. Blocks of at
// least 256 KB are kept on free and handed out again for a request of the same size class; smaller
// ones go straight back to c10's allocator. When a freed block would take the cache past
// `max_cached_bytes`, everything cached is released first (the work has moved on to other sizes). Returns whether it
// is installed afterwards. Tensors made while it was installed stay valid after uninstalling.
bool set_cpu_block_cache(bool enable, int64_t max_cached_bytes);

struct CpuBlockCacheStats {
  bool installed;
  int64_t cached_bytes;  // held free, ready for reuse
  int64_t hits;          // large requests served from the cache
  int64_t misses;        // large requests that went to the system
};

CpuBlockCacheStats cpu_block_cache_stats();

// Return every cached block to the system (as torch.cuda.empty_cache() does on a GPU).
void release_cpu_block_cache();

}  // namespace cnnfast
