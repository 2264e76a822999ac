// Segmented normalization (SPEC "Estimators").
// norm = MeanStd: (x - mean) / (std + eps) with the unbiased std; norm = Mean: x - mean.
// A segment of one value: step groups give 0 (SingletonRule::Zero); episode statistics use mean 0, std 1
// (SingletonRule::MeanZeroStdOne). A segment whose values are all equal gives exactly 0.
// eps = 0 is allowed and means the plain z-score (x - mean) / std: a segment has std > 0 unless its values
// are all equal, and those give 0, so nothing is divided by zero.
// Sums run in the given order, so results are deterministic.
//
// Finite inputs give finite outputs whenever the exact result is finite. The plain formula is used when it
// is exact to rounding (the common case, bit for bit as before); when it would overflow (sums or squares
// beyond float64) or lose the spread of tiny values (squares below 2^-1000), the segment is computed from
// values scaled by a power of two, which changes no ratio. Only norm = Mean can have a result that float64
// cannot hold (x - mean with values of both signs near the float64 limit).
#pragma once

#include <cstddef>

#include "graphgpo/options.hpp"

namespace graphgpo {
inline namespace v0 {

enum class SingletonRule { Zero, MeanZeroStdOne };

// out may alias values. Returns the index of the first output that is not finite (possible only for
// norm = Mean or non-finite inputs), or n when all are finite.
size_t normalize_segment(const double* values, size_t n, Norm norm, double eps, SingletonRule singleton, double* out);

// The same for values given as y * 2^log2_scale (y of moderate size: |y| <= a few units): normalizes the
// true values x = y * 2^log2_scale without forming them. For n >= 2 values that are not all equal.
// out may alias y.
size_t normalize_scaled_segment(const double* y, size_t n, double log2_scale, Norm norm, double eps, double* out);

}  // namespace v0
}  // namespace graphgpo
