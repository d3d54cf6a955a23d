// activation_ and activation_out (see activation_inplace.h).
#include "common/activation_inplace.h"

#include <ATen/ATen.h>

namespace cnnfast {

void activation_(at::Tensor& out, Activation act) {
  switch (act) {
    case Activation::None: return;
    case Activation::ReLU: at::relu_(out); return;
    case Activation::ReLU6: at::hardtanh_(out, 0.0, 6.0); return;
    case Activation::SiLU: at::silu_(out); return;
    case Activation::Sigmoid: at::sigmoid_(out); return;
    case Activation::HardSwish: at::hardswish_(out); return;
    case Activation::HardSigmoid: at::hardsigmoid_(out); return;
    case Activation::Tanh: at::tanh_(out); return;
  }
}

void activation_out(const at::Tensor& src, at::Tensor& out, Activation act) {
  switch (act) {
    case Activation::None: out.copy_(src); return;
    case Activation::ReLU: at::clamp_min_out(out, src, 0.0); return;  // at::relu is clamp_min(x, 0)
    case Activation::ReLU6: at::hardtanh_out(out, src, 0.0, 6.0); return;
    case Activation::SiLU: at::silu_out(out, src); return;
    case Activation::Sigmoid: at::sigmoid_out(out, src); return;
    case Activation::HardSwish: at::hardswish_out(out, src); return;
    case Activation::HardSigmoid: at::hardsigmoid_out(out, src); return;
    case Activation::Tanh: at::tanh_out(out, src); return;
  }
}

}  // namespace cnnfast
