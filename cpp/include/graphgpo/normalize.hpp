// Segmented normalization (SPEC "Estimators").
// norm = MeanStd: (x - mean) / (std + eps) with the unbiased std; norm = Mean: x - mean.
// A segment of one value: step groups give 0 (SingletonRule::Zero); episode statistics use mean 0, std 1
// (SingletonRule::MeanZeroStdOne). A segment whose values are all equal gives exactly 0.
// Sums run in the given order, so results are deterministic.
#pragma once

#include <cstddef>

#include "graphgpo/options.hpp"

namespace graphgpo {
inline namespace v0 {

enum class SingletonRule { Zero, MeanZeroStdOne };

// out may alias values.
void normalize_segment(const double* values, size_t n, Norm norm, double eps, SingletonRule singleton, double* out);

}  // namespace v0
}  // namespace graphgpo
