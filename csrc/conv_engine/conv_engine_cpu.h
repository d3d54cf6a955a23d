// cnnfast's own CPU convolution: implicit GEMM over channels_last maps on oneDNN's JIT
// batch-reduce GEMM microkernel (at::native::cpublas::brgemm, exported by the torch wheel), with
// the whole epilogue (bias, residual, every activation, a strided store) applied per tile.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "cnnfast/activation.h"
#include "conv_engine/geometry.h"

namespace cnnfast {
class ChannelSums;
}

namespace cnnfast::engine {

// Whether the installed torch has the fp32 microkernel and this CPU runs it (AVX2 or better).
bool engine_available();

// The geometry of conv(x, weight) with these parameters; x is (N, C, H, W) in any layout.
ConvGeometry make_geometry(const at::Tensor& x, const at::Tensor& weight, at::IntArrayRef stride,
                           at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

// out = act(conv2d(x, weight) + bias + residual), written into `out`: fp32, x dense channels_last,
// residual any layout that broadcasts to out, out any view with unit channel stride (a new
// channels_last tensor or a channel slice of one). The filter is packed on first use and cached
// with the weight. `winograd`: the F(2x2, 3x3) form (winograd.h; winograd_can_run(geo) must hold).
// sums (optional): the output's per-channel sums, added by the tile store from its registers.
void conv_engine_cpu(const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                     const ConvGeometry& geo, const std::optional<at::Tensor>& residual, Activation act,
                     at::Tensor& out, bool winograd = false, ChannelSums* sums = nullptr);

}  // namespace cnnfast::engine
