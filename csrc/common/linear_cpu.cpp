// linear_act_cpu (see linear_cpu.h).
#include "common/linear_cpu.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <type_traits>

#include "common/activation_inplace.h"
#include "common/vector_cpu.h"

namespace cnnfast {

namespace {

constexpr int64_t kMaxRowBatch = 4;   // measured: above this MKL's GEMM is as fast or faster
constexpr int64_t kGrainMacs = 32768;  // work per OpenMP task

// out[i, j] = act(in[i, :] . w[j, :] + b[j]) for n rows of in, m outputs, k inputs (contiguous).
// Each task takes a block of w's rows and computes them for every row of in while they are in cache.
template <typename scalar_t>
void rows_act(const scalar_t* in, const scalar_t* w, const scalar_t* b, scalar_t* out, int64_t n, int64_t m,
              int64_t k, Activation act) {
  using acc_t = at::opmath_type<scalar_t>;
  dispatch_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    at::parallel_for(0, m, std::max<int64_t>(16, kGrainMacs / std::max<int64_t>(1, k * n)), [&](int64_t j0, int64_t j1) {
      for (int64_t i = 0; i < n; ++i) {
        scalar_t* o = out + i * m;
        if constexpr (std::is_same_v<scalar_t, float>) {
          gemv_f32(w + j0 * k, in + i * k, o + j0, j1 - j0, k);
          for (int64_t j = j0; j < j1; ++j) o[j] = activate<A, float>(o[j] + (b ? b[j] : 0.0f));
        } else {
          for (int64_t j = j0; j < j1; ++j) {
            const acc_t bias = b ? static_cast<acc_t>(b[j]) : acc_t(0);
            o[j] = static_cast<scalar_t>(activate<A, acc_t>(dot(in + i * k, w + j * k, k) + bias));
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
  if (n > kMaxRowBatch) {
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
