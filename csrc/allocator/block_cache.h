// The block cache: a CPU allocator that keeps freed large blocks for the next forward pass.
//
// A process-wide choice, like torch.cuda's caching allocator on a GPU: install() puts it in place
// of c10's default CPU allocator for every tensor of the process. cnnfast.memory is its Python
// face, and says when optimize() installs it.
#pragma once

#include <cstdint>

namespace cnnfast::block_cache {

// The cap a first install() uses when none is given.
constexpr int64_t kDefaultMaxCachedBytes = int64_t{1} << 30;

// Installs the block cache over c10's default CPU allocator. Blocks of at least 256 KB are kept on
// free and handed out again for a request of the same size class, or of up to half their class
// when they are among the last few freed (still in cache); smaller ones go straight to
// c10's allocator. When a freed block would take the cache past the cap, everything cached is
// released first (the work has moved on to other sizes). max_cached_bytes >= 0 sets the cap; a
// negative value keeps the current one. Returns whether it is installed afterwards: false when
// another custom CPU allocator is in place (it is never replaced). Thread-safe.
bool install(int64_t max_cached_bytes = -1);

// Puts c10's default allocator back and frees what is cached. Tensors made while the cache was
// installed stay valid (their blocks go to the system when freed). Thread-safe.
void uninstall();

struct Stats {
  bool installed;
  int64_t max_cached_bytes;  // the cap
  int64_t cached_bytes;      // held free, ready for reuse
  int64_t hits;              // large requests served from the cache
  int64_t misses;            // large requests that went to the system
};

Stats stats();

// Return every cached block to the system (as torch.cuda.empty_cache() does on a GPU).
void release();

}  // namespace cnnfast::block_cache
