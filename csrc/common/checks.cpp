// check_out_tensor (see checks.h).
#include "common/checks.h"

#include <ATen/MemoryOverlap.h>

namespace cnnfast {

void check_out_tensor(const at::Tensor& out, const at::Tensor& x, at::IntArrayRef shape, const char* op,
                      const char* what) {
  check_same(out, x, op, "out");
  TORCH_CHECK_VALUE(out.sizes() == shape, "cnnfast.", op, ": out has shape ", out.sizes(), " but the ", what,
                    "'s output has shape ", shape);
  TORCH_CHECK_VALUE(at::has_internal_overlap(out) != at::MemOverlap::Yes, "cnnfast.", op,
                    ": out has overlapping elements (an expanded tensor?)");
  // A strided out (a slice) makes ATen's exact test give up (TooHard): then sharing x's storage
  // at all is refused.
  const auto overlap = at::get_overlap_status(out, x);
  TORCH_CHECK_VALUE(overlap == at::MemOverlapStatus::No ||
                        (overlap == at::MemOverlapStatus::TooHard && !out.is_alias_of(x)),
                    "cnnfast.", op, ": out shares memory with x; the ", what, " would read what it writes");
}

}  // namespace cnnfast
