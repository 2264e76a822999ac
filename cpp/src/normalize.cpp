#include "graphgpo/normalize.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace graphgpo {
inline namespace v0 {
namespace {

// Below this sum of squares, (x - mean)^2 terms may have been subnormal and lost their precision.
constexpr double kSmallestExactSquares = 0x1p-1000;

// x * 2^log2_factor without overflow in between (the factor's integer part goes through ldexp).
double times_power_of_two(double x, double log2_factor) {
  const double whole = std::floor(log2_factor);
  const int exponent = static_cast<int>(std::max(-4000.0, std::min(4000.0, whole)));
  return std::ldexp(x * std::exp2(log2_factor - whole), exponent);
}

size_t first_not_finite(const double* out, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(out[i])) return i;
  return n;
}

}  // namespace

size_t normalize_scaled_segment(const double* y, size_t n, double log2_scale, Norm norm, double eps, double* out) {
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += y[i];
  const double mean = sum / static_cast<double>(n);
  if (norm == Norm::Mean) {
    // x - mean = (y - mean_y) * 2^scale: may exceed float64, which the caller reports.
    for (size_t i = 0; i < n; ++i) out[i] = times_power_of_two(y[i] - mean, log2_scale);
    return first_not_finite(out, n);
  }
  double squares = 0.0;
  for (size_t i = 0; i < n; ++i) squares += (y[i] - mean) * (y[i] - mean);
  const double std_dev = std::sqrt(squares / static_cast<double>(n - 1));
  // (x - mean) / (std + eps) = (y - mean_y) / (std_y + eps * 2^-scale); eps * 2^-scale may be +inf (then
  // the true result is below float64's smallest value: 0).
  const double scaled_eps = times_power_of_two(eps, -log2_scale);
  const double denominator = std_dev + scaled_eps;
  for (size_t i = 0; i < n; ++i) out[i] = (y[i] - mean) / denominator;
  return first_not_finite(out, n);
}

size_t normalize_segment(const double* values, size_t n, Norm norm, double eps, SingletonRule singleton,
                         double* out) {
  if (n == 0) return 0;
  if (n == 1) {
    if (singleton == SingletonRule::Zero) {
      out[0] = 0.0;
      return 1;
    }
    // Mean 0, std 1.
    out[0] = norm == Norm::Mean ? values[0] : values[0] / (1.0 + eps);
    return std::isfinite(out[0]) ? 1 : 0;
  }
  bool all_equal = true;
  for (size_t i = 1; i < n && all_equal; ++i) all_equal = values[i] == values[0];
  if (all_equal) {  // exact 0, not round-off divided by eps
    for (size_t i = 0; i < n; ++i) out[i] = 0.0;
    return n;
  }
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += values[i];
  const double mean = sum / static_cast<double>(n);
  double squares = 0.0;
  for (size_t i = 0; i < n; ++i) squares += (values[i] - mean) * (values[i] - mean);
  // NaN-safe test: also false when a sum overflowed (inf, or inf - inf). Within these bounds every
  // |x - mean| <= sqrt(squares) < 2^512 and std > 2^-501, so the outputs are finite: no check needed.
  if (squares >= kSmallestExactSquares && squares <= std::numeric_limits<double>::max()) {
    if (norm == Norm::Mean) {
      for (size_t i = 0; i < n; ++i) out[i] = values[i] - mean;
      return n;
    }
    const double scale = std::sqrt(squares / static_cast<double>(n - 1)) + eps;
    for (size_t i = 0; i < n; ++i) out[i] = (values[i] - mean) / scale;
    return n;
  }
  // Scale by the power of two of the largest magnitude: |y| < 1, exact (bar subnormal results).
  double largest = 0.0;
  for (size_t i = 0; i < n; ++i) largest = std::max(largest, std::fabs(values[i]));
  if (!std::isfinite(largest)) {
    for (size_t i = 0; i < n; ++i) out[i] = values[i] - values[i];  // NaN where the input is not finite
    return first_not_finite(out, n);
  }
  int exponent = 0;
  std::frexp(largest, &exponent);
  for (size_t i = 0; i < n; ++i) out[i] = std::ldexp(values[i], -exponent);
  return normalize_scaled_segment(out, n, static_cast<double>(exponent), norm, eps, out);
}

}  // namespace v0
}  // namespace graphgpo
