// Fully connected layers on the CPU at inference batch sizes (the SE excitation, classifier heads).
#pragma once

#include <ATen/core/Tensor.h>

#include "cnnfast/activation.h"

namespace cnnfast {

// act(in @ w^T + b): in (N, K), w (M, K), b (M) or none -> (N, M) contiguous, in's dtype.
// At inference batch sizes the cost is reading w, so a row-streaming kernel runs it (threads
// split w's rows, each block of rows meets every row of in while in cache; skinny_gemm_cpu.h):
// up to 4 rows always, up to 64 for fp32 layers with >= 256 inputs. Measured 0.3-0.6x of MKL's
// GEMM time on classifier layers at batch 1-64. Other cases go to MKL (addmm), then the activation.
at::Tensor linear_act_cpu(const at::Tensor& in, const at::Tensor& w, const std::optional<at::Tensor>& b,
                          Activation act);

}  // namespace cnnfast
