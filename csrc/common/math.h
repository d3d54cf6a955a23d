// Integer helpers for tiling and padding, one definition for every kernel.
#pragma once

namespace cnnfast {

// ceil(a / b) for a >= 0, b > 0.
template <typename T>
constexpr T ceil_div(T a, T b) {
  return (a + b - 1) / b;
}

// The smallest multiple of `multiple` that is >= n (n >= 0, multiple > 0).
template <typename T>
constexpr T round_up(T n, T multiple) {
  return ceil_div(n, multiple) * multiple;
}

}  // namespace cnnfast
