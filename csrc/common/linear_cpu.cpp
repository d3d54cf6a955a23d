// linear_act_cpu (see linear_cpu.h).
#include "common/linear_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <type_traits>

#include "common/activation_inplace.h"
#include "common/cpu_isa.h"
#include "common/linear_brgemm_cpu.h"
#include "common/skinny_gemm_cpu.h"
#include "common/vector_cpu.h"

namespace cnnfast {

namespace {

constexpr int64_t kGrainMacs = 32768;  // work per OpenMP task

// Whether the row-streaming kernel beats MKL's GEMM (addmm) for n rows of k inputs. Measured
// with 2 threads (benchmarks/ops/bench_linear_bias_act.py): fp32 with k >= 256 takes 0.3-0.8x of
// MKL's time up to 64 rows (1.0x at 128); narrow layers (an SE block's 64 -> 256) pay a
// horizontal sum per output and lose above 4 rows, as do the other dtypes' plain dot products.
bool streams_rows(const at::Tensor& in) {
  const int64_t n = in.size(0), k = in.size(1);
  if (n <= 4) return true;
  return in.scalar_type() == at::kFloat && k >= 256 && n <= 64;
}

// Whether the brgemm kernel (linear_brgemm_cpu.h) runs it: fp32 with 5-64 rows. Measured against
// the row-streaming kernel / MKL with 2 threads (AMD EPYC Zen 5, 2026-12-04, SE and classifier
// layers of MobileNetV3): see the commit that set it.
// The packed weight is cached by the weight tensor itself: a non-contiguous weight (a temporary
// copy per call) keeps the other paths.
// Without AVX-512 it takes only what streams_rows leaves (fewer than 256 inputs, where the other
// choice is MKL): oneDNN's AVX2 brgemm read the weight at 15-21 GB/s where the streaming kernel's
// AVX2 build read 20-41 (AMD EPYC Zen 4 run as an AVX2 machine, 2 threads, 8 rows, 2026-12-08,
// benchmarks/results/cpu_linear_avx2.md): 0.62-0.96x the time on the classifier and SE layers of
// 256+ inputs (AlexNet's 9216 -> 4096 0.82-0.90x); MKL took 1.2-2.0x on narrower ones.
bool on_brgemm(const at::Tensor& in, const at::Tensor& w) {
  const int64_t n = in.size(0);
  if (!cpu_has_avx512() && streams_rows(in)) return false;
  return in.scalar_type() == at::kFloat && n > 4 && n <= 64 && in.size(1) > 0 && w.is_contiguous() &&
         linear_brgemm_available();
}

// out[i, j] = act(in[i, :] . w[j, :] + b[j]) for n rows of in, m outputs, k inputs (contiguous).
// Each task takes a block of w's rows and computes them for every row of in while they are in
// cache, so w is read from memory once whatever n is.
template <typename scalar_t>
void rows_act(const scalar_t* in, const scalar_t* w, const scalar_t* b, scalar_t* out, int64_t n, int64_t m,
              int64_t k, Activation act) {
  using acc_t = at::opmath_type<scalar_t>;
  dispatch_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    at::parallel_for(0, m, std::max<int64_t>(16, kGrainMacs / std::max<int64_t>(1, k * n)), [&](int64_t j0, int64_t j1) {
      if constexpr (std::is_same_v<scalar_t, float>) {
        skinny_gemm_f32(in, w, out, n, k, m, j0, j1);
        for (int64_t i = 0; i < n; ++i) {
          float* o = out + i * m;
          for (int64_t j = j0; j < j1; ++j) o[j] = activate<A, float>(o[j] + (b ? b[j] : 0.0f));
        }
      } else {
        for (int64_t j = j0; j < j1; ++j) {
          const acc_t bias = b ? static_cast<acc_t>(b[j]) : acc_t(0);
          for (int64_t i = 0; i < n; ++i) {
            out[i * m + j] = static_cast<scalar_t>(activate<A, acc_t>(dot(in + i * k, w + j * k, k) + bias));
          }
        }
      }
    });
  });
}

}  // namespace

at::Tensor linear_act_cpu(const at::Tensor& in, const at::Tensor& w, const std::optional<at::Tensor>& b,
                          Activation act) {
  const int64_t n = in.size(0), k = in.size(1), m = w.size(0);
  if (on_brgemm(in, w)) {
    at::Tensor out = at::empty({n, m}, in.options());
    if (m == 0) return out;
    const at::Tensor bc = b.has_value() ? b->contiguous() : at::Tensor();
    linear_brgemm_f32(in.contiguous(), w, bc.defined() ? bc.const_data_ptr<float>() : nullptr, act, out);
    if (!is_cheap(act)) activation_(out, act);
    return out;
  }
  if (!streams_rows(in)) {
    at::Tensor out = b.has_value() ? at::addmm(*b, in, w.t()) : at::mm(in, w.t());
    activation_(out, act);
    return out.contiguous();
  }
  at::Tensor out = at::empty({n, m}, in.options());
  if (n == 0 || m == 0) return out;
  const at::Tensor inc = in.contiguous(), wc = w.contiguous();
  const at::Tensor bc = b.has_value() ? b->contiguous() : at::Tensor();
  // exp/tanh-based activations follow as ATen's vectorised pass (see is_cheap).
  const Activation inline_act = is_cheap(act) ? act : Activation::None;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scalar_type(), "linear_act_cpu", [&] {
    rows_act(inc.const_data_ptr<scalar_t>(), wc.const_data_ptr<scalar_t>(),
             bc.defined() ? bc.const_data_ptr<scalar_t>() : nullptr, out.data_ptr<scalar_t>(), n, m, k, inline_act);
  });
  if (!is_cheap(act)) activation_(out, act);
  return out;
}

}  // namespace cnnfast
