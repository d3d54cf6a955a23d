// small_cnn on the CPU. fp32: the whole network per image in one function, with no ATen call,
// allocation or dispatch between layers. LeNet-5's layers each take about a microsecond of
// arithmetic, while one ATen op costs several microseconds of dispatch and allocation: layer by
// layer, the framework is most of the time (eager 0.19 ms against ONNX Runtime's 0.03 ms here).
//
// Layout: planar (C, H, W) maps between layers, which is also the order nn.Flatten hands the
// first linear layer. A conv accumulates float vectors (the CPU level's width: 16 lanes with
// AVX-512, 8 with AVX2) in registers, either over output columns
// (4 output rows by 2 column vectors at a time) or, where that fills the vectors better, over
// output channels (8 output pixels at a time, filter packed once per weight). The activation and a
// 2x2 pool run on the accumulators before the store; other pools run on the finished plane. Linear
// layers are GEMVs over the flattened map with the weight packed transposed once. Images go to
// threads; one image stays on one thread (a LeNet image is ~1 MFLOP: splitting it costs more than
// it saves).
// Other dtypes run the composite version (ATen ops layer by layer).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/cpu_levels.h"
#include "common/prepacked_weights.h"
#include "ops/small_cnn/small_cnn.h"
#include "ops/small_cnn/small_cnn_layers_cpu.h"

namespace cnnfast {

namespace {

using namespace small_cnn_layers;

struct Net {
  const std::vector<SmallCnnLayer>& layers;
  std::vector<const float*> w, b;
  // by-channels conv layers: the filter as conv_layer_cv reads it; linear layers: the weight
  // transposed, as linear_layer reads it
  std::vector<const float*> packed;
  int64_t map_floats;  // the largest map any layer reads or writes, padding and read slack included
};

int64_t map_floats(const std::vector<SmallCnnLayer>& layers) {
  int64_t most = 0;
  for (const SmallCnnLayer& L : layers) {
    const int64_t padded = L.in_c * (L.in_h + 2 * L.padding) * (L.in_w + 2 * L.padding);
    // conv_layer reads up to kRows - 1 rows and kLanes * stride + kw values past the last row.
    const int64_t slack = L.conv ? kRows * L.stride * (L.in_w + 2 * L.padding) + kLanes * L.stride + L.kw : 0;
    most = std::max({most, padded + slack, L.out_c * L.out_h * L.out_w, L.in_c});
  }
  return most;
}

// Scratch per thread (three maps), kept across calls: no allocation in the steady state.
std::vector<float>& scratch() {
  static thread_local std::vector<float> buf;
  return buf;
}

// The whole network for one image x (C, H, W) with strides (sc, sh, sw); writes the last
// layer's outputs to out. W: the lanes of the level's vector registers (small_cnn_layers_cpu.h).
template <int W>
CNNFAST_INLINE void run_image_at(const Net& net, const float* x, int64_t sc, int64_t sh, int64_t sw,
                                 float* __restrict__ out) {
  std::vector<float>& buf = scratch();
  if (static_cast<int64_t>(buf.size()) < 3 * net.map_floats) buf.assign(3 * net.map_floats, 0.0f);
  float* padded = buf.data();                 // a conv's zero-padded input planes
  float* conv = padded + net.map_floats;      // a conv's output before its pool
  float* next = conv + net.map_floats;        // the next layer's input
  const float* cur = nullptr;                 // this layer's planar input; nullptr: read x
  const size_t last = net.layers.size() - 1;
  for (size_t i = 0; i <= last; ++i) {
    const SmallCnnLayer& L = net.layers[i];
    if (!L.conv) {
      float* dst = i == last ? out : (cur == next ? conv : next);
      linear_layer<W>(net.packed[i], cur, L.in_c, L.out_c, dst);
      if (net.b[i]) {
        for (int64_t j = 0; j < L.out_c; ++j) dst[j] += net.b[i][j];
      }
      CNNFAST_SWITCH_ACTIVATION(L.act, (activate<W, A>(dst, L.out_c)))
      cur = dst;
      continue;
    }
    // Copy the input into zero padding (x itself may have any strides): planar planes for the
    // by-columns loop, channels-last for the by-channels one.
    const bool cv = net.packed[i] != nullptr;
    const int64_t p = L.padding, hp = L.in_h + 2 * p, wp = L.in_w + 2 * p;
    const int64_t pitch_c = cv ? 1 : hp * wp, pitch_y = cv ? wp * L.in_c : wp, pitch_x = cv ? L.in_c : 1;
    if (p > 0) std::fill(padded, padded + L.in_c * hp * wp, 0.0f);
    for (int64_t ch = 0; ch < L.in_c; ++ch) {
      for (int64_t y = 0; y < L.in_h; ++y) {
        float* dst = padded + ch * pitch_c + (y + p) * pitch_y + p * pitch_x;
        if (cur && !cv) {
          std::memcpy(dst, cur + (ch * L.in_h + y) * L.in_w, L.in_w * sizeof(float));
        } else if (cur) {
          const float* src = cur + (ch * L.in_h + y) * L.in_w;
          for (int64_t xx = 0; xx < L.in_w; ++xx) dst[xx * pitch_x] = src[xx];
        } else {
          const float* src = x + ch * sc + y * sh;
          for (int64_t xx = 0; xx < L.in_w; ++xx) dst[xx * pitch_x] = src[xx * sw];
        }
      }
    }
    // A 2x2 pool is applied in the conv's store; other pools run on the conv's output after it.
    // Either way the conv (or its pool) writes the next layer's input, or the result.
    const int fused = L.pool_size == 2 ? static_cast<int>(L.pool) : 0;
    float* result = i == last ? out : next;
    float* dst = L.pool && !fused ? conv : result;
    // The activation, the fused pool and a unit stride are compile-time constants of the loops.
#define CNNFAST_CONV(P)                                                                                         \
  if (cv && L.stride == 1) {                                                                                     \
    CNNFAST_SWITCH_ACTIVATION(L.act, (conv_layer_cv<W, 1, A, P>(padded, L.in_c, wp, net.packed[i], net.b[i], L.out_c, \
                                                             L.kh, L.kw, 1, L.out_h, L.out_w, dst)))            \
  } else if (cv) {                                                                                               \
    CNNFAST_SWITCH_ACTIVATION(L.act, (conv_layer_cv<W, 0, A, P>(padded, L.in_c, wp, net.packed[i], net.b[i], L.out_c, \
                                                             L.kh, L.kw, L.stride, L.out_h, L.out_w, dst)))     \
  } else if (L.stride == 1) {                                                                                    \
    CNNFAST_SWITCH_ACTIVATION(L.act, (conv_layer<W, 1, A, P>(padded, L.in_c, hp, wp, net.w[i], net.b[i], L.out_c,     \
                                                          L.kh, L.kw, 1, L.out_h, L.out_w, dst)))               \
  } else {                                                                                                       \
    CNNFAST_SWITCH_ACTIVATION(L.act, (conv_layer<W, 0, A, P>(padded, L.in_c, hp, wp, net.w[i], net.b[i], L.out_c,     \
                                                          L.kh, L.kw, L.stride, L.out_h, L.out_w, dst)))        \
  }
    if (fused == 1) {
      CNNFAST_CONV(1)
    } else if (fused == 2) {
      CNNFAST_CONV(2)
    } else {
      CNNFAST_CONV(0)
    }
#undef CNNFAST_CONV
    if (L.pool && !fused) pool_layer(conv, L, result);
    cur = next;
  }
}

// run_image_at built at each x86-64 level on its vector width (common/cpu_levels.h).
#if CNNFAST_CPU_LEVELS
CNNFAST_TARGET_V4 void run_image_v4(const Net& net, const float* x, int64_t sc, int64_t sh, int64_t sw, float* out) {
  run_image_at<16>(net, x, sc, sh, sw, out);
}

CNNFAST_TARGET_V3 void run_image_v3(const Net& net, const float* x, int64_t sc, int64_t sh, int64_t sw, float* out) {
  run_image_at<8>(net, x, sc, sh, sw, out);
}
#endif

void run_image_baseline(const Net& net, const float* x, int64_t sc, int64_t sh, int64_t sw, float* out) {
  run_image_at<4>(net, x, sc, sh, sw, out);
}

at::Tensor small_cnn_cpu(const at::Tensor& x, at::TensorList weights, at::TensorList biases,
                         at::IntArrayRef program) {
  const auto layers = check_small_cnn(x, weights, biases, program);
  // The fast path starts with a conv (run_image's linear layers read the previous layer's map).
  if (x.scalar_type() != at::kFloat || !layers.front().conv) return small_cnn_composite(x, weights, biases, program);
  const SmallCnnLayer& L = layers.back();
  const int64_t n = x.size(0);
  at::Tensor out = L.conv ? at::empty({n, L.out_c, L.pooled_h, L.pooled_w}, x.options())
                          : at::empty({n, L.out_c}, x.options());
  if (n == 0) return out;
  // Contiguous float weights, held for the call (a no-op for the module's own parameters).
  std::vector<at::Tensor> w, b, packed;
  Net net{layers, {}, {}, {}, map_floats(layers)};
  for (size_t i = 0; i < layers.size(); ++i) {
    const SmallCnnLayer& li = layers[i];
    w.push_back(weights[i].contiguous());
    const std::optional<at::Tensor> bias = bias_of(biases, i);
    b.push_back(bias.has_value() ? bias->contiguous() : at::Tensor());
    net.w.push_back(w.back().const_data_ptr<float>());
    net.b.push_back(b.back().defined() ? b.back().const_data_ptr<float>() : nullptr);
    net.packed.push_back(nullptr);
    if (li.conv && by_channels(li)) {
      // (O, C, KH, KW) -> (KH, KW, C, O padded to kLanes, zero-filled), packed once per weight
      // (and again only if it changes): repacking on every call cost as much as the conv.
      packed.push_back(prepacked_weight(w.back(), PackedLayout::SmallCnn, 0, [](const at::Tensor& wt) {
        const int64_t o = wt.size(0), c = wt.size(1), kh = wt.size(2), kw = wt.size(3);
        return at::constant_pad_nd(wt.permute({2, 3, 1, 0}).reshape({kh * kw * c, o}),
                                   {0, padded_channels(o) - o}).contiguous();
      }));
      net.packed.back() = packed.back().const_data_ptr<float>();
    } else if (!li.conv) {
      // (O, K) -> (K, O padded to kLanes, zero-filled), packed once per weight like the filters.
      packed.push_back(prepacked_weight(w.back(), PackedLayout::SmallCnn, 1, [](const at::Tensor& wt) {
        return at::constant_pad_nd(wt.t(), {0, padded_channels(wt.size(0)) - wt.size(0)}).contiguous();
      }));
      net.packed.back() = packed.back().const_data_ptr<float>();
    }
  }
  const float* xp = x.const_data_ptr<float>();
  float* op = out.mutable_data_ptr<float>();
  const int64_t per_image = out.numel() / n;
  const auto run_image = CNNFAST_PICK_LEVEL(run_image);
  const auto run = [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      run_image(net, xp + i * x.stride(0), x.stride(1), x.stride(2), x.stride(3), op + i * per_image);
    }
  };
  if (n == 1) {
    run(0, 1);  // no thread team for one image: its fork and join cost more than LeNet's arithmetic
  } else {
    at::parallel_for(0, n, 1, run);
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("small_cnn", TORCH_FN(small_cnn_cpu));
}

}  // namespace cnnfast
