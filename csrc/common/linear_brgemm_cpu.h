// Fully connected layers at small batch (5-64 rows) on oneDNN's brgemm microkernel, the conv
// engine's GEMM: the weight packed once, transposed into 64-column blocks, microkernel calls per
// block (M = rows, N = 64, K = an L1-sized step of the inputs), bias and activation as each block is
// stored.
#pragma once

#include <ATen/core/Tensor.h>

#include "cnnfast/activation.h"

namespace cnnfast {

// Whether this torch and CPU run it (the conv engine's microkernel: engine_available()).
bool linear_brgemm_available();

// out (N, M) = act(in @ w^T + b) for fp32 in (N, K) and w (M, K), both contiguous; b (M) or null.
// Only the cheap activations (is_cheap) are applied here; the caller applies the others.
void linear_brgemm_f32(const at::Tensor& in, const at::Tensor& w, const float* b, Activation act, at::Tensor& out);

}  // namespace cnnfast
