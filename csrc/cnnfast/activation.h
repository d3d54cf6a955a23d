// The activations cnnfast kernels apply in their epilogue, parsed once from the schema's string.
#pragma once

#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

#include <cmath>
#include <string>

namespace cnnfast {

enum class Activation { None, ReLU, ReLU6, SiLU, Sigmoid, HardSwish, HardSigmoid, Tanh };

// Strings are the schema's contract: keep them in sync with cnnfast/ops/_activations.py.
inline Activation parse_activation(c10::string_view name) {
  if (name == "none") return Activation::None;
  if (name == "relu") return Activation::ReLU;
  if (name == "relu6") return Activation::ReLU6;
  if (name == "silu") return Activation::SiLU;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "hardswish") return Activation::HardSwish;
  if (name == "hardsigmoid") return Activation::HardSigmoid;
  if (name == "tanh") return Activation::Tanh;
  TORCH_CHECK_VALUE(false, "cnnfast: act must be one of none, relu, relu6, silu, sigmoid, hardswish, "
                    "hardsigmoid, tanh; got '", std::string(name), "'");
}

// Scalar form, used by the portable epilogues (CPU fallback and CUDA). Computes in float or wider.
template <typename T>
#if defined(__CUDACC__)
__host__ __device__
#endif
inline T apply_activation(T v, Activation act) {
  switch (act) {
    case Activation::None: return v;
    case Activation::ReLU: return v < T(0) ? T(0) : v;  // keeps NaN, as torch.relu does
    case Activation::ReLU6: return v < T(0) ? T(0) : (v > T(6) ? T(6) : v);
    case Activation::SiLU: return v / (T(1) + exp(-v));
    case Activation::Sigmoid: return T(1) / (T(1) + exp(-v));
    case Activation::HardSwish: {
      T r = v + T(3);
      r = r < T(0) ? T(0) : (r > T(6) ? T(6) : r);
      return v * r / T(6);
    }
    case Activation::Tanh: return tanh(v);
    case Activation::HardSigmoid: {
      T r = v + T(3);
      r = r < T(0) ? T(0) : (r > T(6) ? T(6) : r);
      return r / T(6);
    }
  }
  return v;
}

}  // namespace cnnfast
