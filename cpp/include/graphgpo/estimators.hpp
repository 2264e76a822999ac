// The three estimators over a whole batch (SPEC "Estimators"): grpo, gigpo, graphgpo, in float64.
// Groups are independent and are processed in parallel; every group writes only its own rows and sums in
// row order, so the result is bit-identical for any thread count.
#pragma once

#include <vector>

#include "graphgpo/batch.hpp"
#include "graphgpo/options.hpp"

namespace graphgpo {
inline namespace v0 {

// Validates the batch (throws Error naming the first offending row), then returns one advantage per row.
std::vector<double> compute_advantages(Method method, const BatchView& batch, const Options& options);

}  // namespace v0
}  // namespace graphgpo
