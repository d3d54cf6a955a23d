// activation_ (see activation_inplace.h).
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

}  // namespace cnnfast
