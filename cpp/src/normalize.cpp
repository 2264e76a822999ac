#include "graphgpo/normalize.hpp"

#include <cmath>

namespace graphgpo {
inline namespace v0 {

void normalize_segment(const double* values, size_t n, Norm norm, double eps, SingletonRule singleton,
                       double* out) {
  if (n == 0) return;
  double mean = 0.0;
  double std_dev = 1.0;
  if (n == 1) {
    if (singleton == SingletonRule::Zero) {
      out[0] = 0.0;
      return;
    }
  } else {
    bool all_equal = true;
    for (size_t i = 1; i < n && all_equal; ++i) all_equal = values[i] == values[0];
    if (all_equal) {  // exact 0, not round-off divided by eps
      for (size_t i = 0; i < n; ++i) out[i] = 0.0;
      return;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += values[i];
    mean = sum / static_cast<double>(n);
    double squares = 0.0;
    for (size_t i = 0; i < n; ++i) squares += (values[i] - mean) * (values[i] - mean);
    std_dev = std::sqrt(squares / static_cast<double>(n - 1));
  }
  if (norm == Norm::Mean) {
    for (size_t i = 0; i < n; ++i) out[i] = values[i] - mean;
    return;
  }
  const double scale = std_dev + eps;
  for (size_t i = 0; i < n; ++i) out[i] = (values[i] - mean) / scale;
}

}  // namespace v0
}  // namespace graphgpo
