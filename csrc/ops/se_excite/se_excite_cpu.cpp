// se_excite on the CPU. At the batch sizes SE blocks see at inference (1..16) each FC layer is a
// few matrix-vector products whose cost is reading the weights once: each task takes a block of
// weight rows and computes them for every image while the row is in L1, threads splitting the
// rows. Larger batches are real GEMMs and go to MKL.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <type_traits>

#include "cnnfast/activation.h"
#include "common/vector_cpu.h"
#include "common/epilogue_cpu.h"
#include "ops/se_excite/se_excite.h"

namespace cnnfast {

namespace {

constexpr int64_t kMaxRowBatch = 4;  // measured: above this MKL's GEMM is as fast or faster
constexpr int64_t kGrainMacs = 32768;    // work per OpenMP task

// out[i, j] = act(in[i, :] . w[j, :] + b[j]) for n images, m outputs, k inputs (all contiguous).
template <typename scalar_t>
void fc_act(const scalar_t* in, const scalar_t* w, const scalar_t* b, scalar_t* out, int64_t n,
            int64_t m, int64_t k, Activation act) {
  using acc_t = at::opmath_type<scalar_t>;
  dispatch_activation(act, [&](auto a) {
    constexpr Activation A = decltype(a)::value;
    at::parallel_for(0, m, std::max<int64_t>(16, kGrainMacs / (k * n)), [&](int64_t j0, int64_t j1) {
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

at::Tensor excite_gemm(const at::Tensor& s, const at::Tensor& w1, const std::optional<at::Tensor>& b1,
                       const at::Tensor& w2, const std::optional<at::Tensor>& b2, Activation act1,
                       Activation act2) {
  at::Tensor h = b1.has_value() ? at::addmm(*b1, s, w1.t()) : at::mm(s, w1.t());
  activation_(h, act1);
  at::Tensor out = b2.has_value() ? at::addmm(*b2, h, w2.t()) : at::mm(h, w2.t());
  activation_(out, act2);
  return out.contiguous();
}

at::Tensor se_excite_cpu(const at::Tensor& s, const at::Tensor& w1, const std::optional<at::Tensor>& b1,
                         const at::Tensor& w2, const std::optional<at::Tensor>& b2,
                         c10::string_view act1_name, c10::string_view act2_name) {
  check_se_excite(s, w1, b1, w2, b2);
  const Activation act1 = parse_activation(act1_name), act2 = parse_activation(act2_name);
  const int64_t n = s.size(0), c = s.size(1), r = w1.size(0);
  if (n > kMaxRowBatch) return excite_gemm(s, w1, b1, w2, b2, act1, act2);
  at::Tensor out = at::empty({n, c}, s.options());
  if (n == 0) return out;
  at::Tensor hidden = at::empty({n, r}, s.options());
  const at::Tensor sc = s.contiguous(), w1c = w1.contiguous(), w2c = w2.contiguous();
  const at::Tensor b1c = b1.has_value() ? b1->contiguous() : at::Tensor();
  const at::Tensor b2c = b2.has_value() ? b2->contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.scalar_type(), "se_excite_cpu", [&] {
    // The hidden layer is stored in scalar_t, rounded as the unfused FC layer's output would be.
    fc_act(sc.const_data_ptr<scalar_t>(), w1c.const_data_ptr<scalar_t>(),
           b1c.defined() ? b1c.const_data_ptr<scalar_t>() : nullptr, hidden.data_ptr<scalar_t>(), n, r, c,
           is_cheap(act1) ? act1 : Activation::None);
    if (!is_cheap(act1)) activation_(hidden, act1);
    fc_act(hidden.const_data_ptr<scalar_t>(), w2c.const_data_ptr<scalar_t>(),
           b2c.defined() ? b2c.const_data_ptr<scalar_t>() : nullptr, out.data_ptr<scalar_t>(), n, c, r,
           is_cheap(act2) ? act2 : Activation::None);
  });
  if (!is_cheap(act2)) activation_(out, act2);
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(cnnfast, CPU, m) {
  m.impl("se_excite", TORCH_FN(se_excite_cpu));
}

}  // namespace cnnfast
