// Fully connected layers on the CPU at inference batch sizes (the SE excitation, classifier heads).
#pragma once

#include <ATen/core/Tensor.h>

#include "cnnfast/activation.h"

namespace cnnfast {

// act(in @ w^T + b): in (N, K), w (M, K), b (M) or none -> (N, M) contiguous, in's dtype.
// At inference batch sizes the cost is reading w, so a row-streaming kernel runs it (threads
// split w's rows, each block of rows meets every row of in while in cache; skinny_gemm_cpu.h) up
// to 4 rows; fp32 with 5-64 rows runs on the brgemm microkernel with w packed once
// (linear_brgemm_cpu.h); other dtypes stream up to 64 rows where K >= 256. Other cases go to MKL
// (addmm), then the activation.
at::Tensor linear_act_cpu(const at::Tensor& in, const at::Tensor& w, const std::optional<at::Tensor>& b,
                          Activation act);

}  // namespace cnnfast
