// shuffle_channels on the CPU: the index is turned into runs (consecutive output channels taken
// from consecutive channels of one input), then every pixel copies its runs. optimize() lays
// ShuffleNet's buffers out so that each output is a handful of long runs (folding the rest of the
// permutation into the next convs' weights), so the copy runs at memcpy speed; an arbitrary index
// (runs of one channel) still works, only slower.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/memory_format.h"
#include "ops/shuffle_channels/shuffle_channels.h"

namespace cnnfast {

namespace {

struct Run {
  int64_t input, input_channel, output, output_channel, length;
  int64_t input_channels, output_channels;  // row lengths of the two tensors, for the pixel loop
};

std::vector<Run> plan_runs(const std::vector<int64_t>& input_start, at::TensorList inputs, const at::Tensor& index,
                           at::IntArrayRef split, int64_t channels) {
  const at::Tensor idx = index.contiguous();
  const int64_t* ip = idx.const_data_ptr<int64_t>();
  std::vector<Run> runs;
  int64_t j = 0;
  for (int64_t o = 0; o < static_cast<int64_t>(split.size()); ++o) {
    for (int64_t k = 0; k < split[o]; ++k, ++j) {
      const int64_t g = ip[j];
      TORCH_CHECK_VALUE(g >= 0 && g < channels, "cnnfast.shuffle_channels: index values must lie in [0, ", channels,
                        ") (the inputs' channels), got ", g, " at position ", j);
      int64_t s = static_cast<int64_t>(input_start.size()) - 1;
      while (input_start[s] > g) --s;
      const int64_t c = g - input_start[s];
      if (!runs.empty()) {
        Run& r = runs.back();
        if (r.output == o && r.input == s && r.input_channel + r.length == c && r.output_channel + r.length == k) {
          ++r.length;
          continue;
        }
      }
      runs.push_back({s, c, o, k, 1, inputs[s].size(1), split[o]});
    }
  }
  return runs;
}

// Copies `length` elements of `bytes` each; the fixed-size element type lets the compiler emit a
// vector loop instead of a libc call per run and pixel.
template <typename E>
inline void copy_elements(char* dst, const char* src, int64_t length) {
  E* d = reinterpret_cast<E*>(dst);
  const E* s = reinterpret_cast<const E*>(src);
  for (int64_t k = 0; k < length; ++k) d[k] = s[k];
}

inline void copy_run(char* dst, const char* src, int64_t length, int64_t bytes) {
  switch (bytes) {
    case 4: return copy_elements<uint32_t>(dst, src, length);
    case 2: return copy_elements<uint16_t>(dst, src, length);
    case 8: return copy_elements<uint64_t>(dst, src, length);
    default: std::memcpy(dst, src, length * bytes);
  }
}

std::vector<at::Tensor> shuffle_channels_cpu(at::TensorList inputs, const at::Tensor& index, at::IntArrayRef split) {
  const int64_t channels = check_shuffle_channels(inputs, index, split);
  std::vector<at::Tensor> outs = shuffle_channels_outputs(inputs, split);
  const at::Tensor& x = inputs[0];
  const auto format = elementwise_memory_format(x);
  std::vector<at::Tensor> ins;
  std::vector<int64_t> input_start;
  int64_t start = 0;
  for (const at::Tensor& t : inputs) {
    ins.push_back(t.contiguous(format));  // a copy only for an input in the other layout or a slice
    input_start.push_back(start);
    start += t.size(1);
  }
  const std::vector<Run> runs = plan_runs(input_start, inputs, index, split, channels);
  const int64_t n = x.size(0), hw = x.size(2) * x.size(3), bytes = x.element_size();
  if (n * hw == 0 || runs.empty()) return outs;
  std::vector<const char*> in_ptr;
  std::vector<char*> out_ptr;
  for (const at::Tensor& t : ins) in_ptr.push_back(static_cast<const char*>(t.const_data_ptr()));
  for (at::Tensor& t : outs) out_ptr.push_back(static_cast<char*>(t.data_ptr()));

  if (format == at::MemoryFormat::ChannelsLast) {
    // Pixel by pixel: each input pixel is a row of C_i channels, each output pixel a row of split[o].
    const int64_t row_bytes = start * bytes;
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(row_bytes, 1));
    at::parallel_for(0, n * hw, grain, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        for (const Run& r : runs) {
          copy_run(out_ptr[r.output] + (p * r.output_channels + r.output_channel) * bytes,
                   in_ptr[r.input] + (p * r.input_channels + r.input_channel) * bytes, r.length, bytes);
        }
      }
    });
  } else {
    // NCHW: a run is `length` whole planes, contiguous in both tensors.
    at::parallel_for(0, n * static_cast<int64_t>(runs.size()), 1, [&](int64_t q0, int64_t q1) {
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t img = q / static_cast<int64_t>(runs.size());
        const Run& r = runs[q % runs.size()];
        std::memcpy(out_ptr[r.output] + ((img * r.output_channels + r.output_channel) * hw) * bytes,
                    in_ptr[r.input] + ((img * r.input_channels + r.input_channel) * hw) * bytes, r.length * hw * bytes);
      }
    });
  }
  return outs;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("shuffle_channels", TORCH_FN(shuffle_channels_cpu));
}

}  // namespace cnnfast
