// The estimators over a whole batch (SPEC "Estimators"): grpo, gigpo, graphgpo, progpo, in float64.
// Groups are independent and are processed in parallel; every group writes only its own rows and sums in
// row order, so the result is bit-identical for any thread count.
#pragma once

#include <vector>

#include "graphgpo/batch.hpp"
#include "graphgpo/memory.hpp"
#include "graphgpo/options.hpp"

namespace graphgpo {
inline namespace v0 {

// Validates the batch (throws Error naming the first offending row), then returns one advantage per row.
std::vector<double> compute_advantages(Method method, const BatchView& batch, const Options& options);

// The same into out[0 .. batch.n). Validation errors are thrown before anything is written; an allocation
// failure, or a finite input whose advantage float64 cannot hold (rewards summing beyond 1e308, a huge
// weight: Error naming the row and the quantity, never an inf or NaN result), can interrupt a run half-way
// (callers that promise untouched outputs on error, like the C ABI, use the vector form).
void compute_advantages_into(Method method, const BatchView& batch, const Options& options, double* out);

// With a graph memory (SPEC "Graph memory across calls"; null = none): each group's graph also holds its
// task's stored edges, and after every advantage is computed the memory stores this call's edges. The memory
// stays locked for the whole call, so concurrent calls on one memory run one after the other.
// episode_out (optional, n values): each row's episode advantage A_E scored without invalid_penalty, i.e. the
// outcome term, one value per trajectory (what a caller gives a turn that owns no step; SPEC "Estimators").
void compute_advantages_into(Method method, const BatchView& batch, const Options& options, double* out,
                             GraphMemory* memory, double* episode_out = nullptr);
std::vector<double> compute_advantages(Method method, const BatchView& batch, const Options& options,
                                       GraphMemory* memory);

}  // namespace v0
}  // namespace graphgpo
