// The activations cnnfast kernels apply in their epilogue, parsed once from the schema's string.
#pragma once

#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

#include <cmath>
#include <string>
#include <type_traits>

namespace cnnfast {

enum class Activation { None, ReLU, ReLU6, SiLU, Sigmoid, HardSwish, HardSigmoid, Tanh };

// Strings are the schema's contract: keep them in sync with cnnfast/contracts/activations.py.
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

#if defined(__CUDACC__)
#define CNNFAST_HOST_DEVICE __host__ __device__
#else
#define CNNFAST_HOST_DEVICE
#endif

// One activation chosen at compile time, so that loops applying it vectorise. Computes in float
// or wider (T is the kernel's accumulation type).
template <Activation A, typename T>
CNNFAST_HOST_DEVICE inline T activate(T v) {
  if constexpr (A == Activation::ReLU) {
    return v < T(0) ? T(0) : v;  // keeps NaN, as torch.relu does
  } else if constexpr (A == Activation::ReLU6) {
    return v < T(0) ? T(0) : (v > T(6) ? T(6) : v);
  } else if constexpr (A == Activation::SiLU) {
    return v / (T(1) + exp(-v));
  } else if constexpr (A == Activation::Sigmoid) {
    return T(1) / (T(1) + exp(-v));
  } else if constexpr (A == Activation::HardSwish) {
    T r = v + T(3);
    r = r < T(0) ? T(0) : (r > T(6) ? T(6) : r);
    return v * r / T(6);
  } else if constexpr (A == Activation::HardSigmoid) {
    T r = v + T(3);
    r = r < T(0) ? T(0) : (r > T(6) ? T(6) : r);
    return r / T(6);
  } else if constexpr (A == Activation::Tanh) {
    return tanh(v);
  } else {
    return v;
  }
}

// No transcendental function: cheap enough to apply inline, element by element. The others (exp,
// tanh) cost ~10 ns each as scalar libm calls, so CPU kernels leave them to ATen's vectorised
// in-place ops (activation_ in common/activation_inplace.h) on large buffers.
constexpr bool is_cheap(Activation act) {
  return act == Activation::None || act == Activation::ReLU || act == Activation::ReLU6 ||
         act == Activation::HardSwish || act == Activation::HardSigmoid;
}

// Calls f(std::integral_constant<Activation, A>{}) for the runtime value act: the kernel body is
// instantiated once per activation, and the branch is taken once per call, not per element.
template <typename F>
CNNFAST_HOST_DEVICE inline decltype(auto) dispatch_activation(Activation act, F&& f) {
  using A = Activation;
  switch (act) {
    case A::ReLU: return f(std::integral_constant<A, A::ReLU>{});
    case A::ReLU6: return f(std::integral_constant<A, A::ReLU6>{});
    case A::SiLU: return f(std::integral_constant<A, A::SiLU>{});
    case A::Sigmoid: return f(std::integral_constant<A, A::Sigmoid>{});
    case A::HardSwish: return f(std::integral_constant<A, A::HardSwish>{});
    case A::HardSigmoid: return f(std::integral_constant<A, A::HardSigmoid>{});
    case A::Tanh: return f(std::integral_constant<A, A::Tanh>{});
    case A::None: break;
  }
  return f(std::integral_constant<A, A::None>{});
}

// Runtime-chosen form, for the portable epilogues where the per-element branch is cheap.
template <typename T>
CNNFAST_HOST_DEVICE inline T apply_activation(T v, Activation act) {
  return dispatch_activation(act, [v](auto a) { return activate<decltype(a)::value, T>(v); });
}

}  // namespace cnnfast
