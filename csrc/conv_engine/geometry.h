// The shape of one convolution as the conv engine sees it: a channels_last (NHWC) input and
// output, groups, and the filter taps flattened into the GEMM's reduction (K) dimension.
// A leaf: nothing here depends on ATen, so the routing rule and its tests can reason on shapes.
#pragma once

#include <cstdint>

namespace cnnfast::engine {

struct ConvGeometry {
  int64_t n = 0, c = 0, h = 0, w = 0;  // input: images, channels, height, width
  int64_t groups = 1;
  int64_t k = 0;                       // output channels
  int64_t r = 1, s = 1;                // filter height, width
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t ho = 0, wo = 0;              // output height, width

  constexpr int64_t cg() const { return c / groups; }       // input channels per group
  constexpr int64_t kg() const { return k / groups; }       // output channels per group
  constexpr int64_t taps() const { return r * s; }
  constexpr int64_t depth() const { return taps() * cg(); }  // GEMM K: taps x group input channels
  constexpr int64_t pixels() const { return ho * wo; }       // GEMM M per image
  // Multiply-adds of the whole convolution.
  constexpr int64_t macs() const { return n * pixels() * k * depth(); }
  // A 1x1, stride-1, unpadded conv reads its GEMM rows straight from the input: no gather.
  constexpr bool reads_input_rows() const { return r == 1 && s == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
  // A strided conv on its row phases (run_stride_phases): row phase a holds the padded input's
  // rows i * sh + a, and tap (kh, kw) reads row phase kh * dh % sh shifted by kh * dh / sh rows.
  // Each phase row is phase_w output columns of sw pixels (the padded row, cut or extended to
  // that), so a run of output pixels phase_w to a row is one run of input pixels sw apart.
  constexpr int64_t phase_h() const { return ho + (r - 1) * dh / sh; }
  constexpr int64_t phase_w() const { return wo + (s - 1) * dw / sw; }
};

// Output size of one spatial dimension (PyTorch's formula).
constexpr int64_t conv_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dil) {
  return (in + 2 * pad - dil * (kernel - 1) - 1) / stride + 1;
}

}  // namespace cnnfast::engine
