// The device algorithm of the estimators (those whose registry entry says supports_cuda), written once against a small "backend" interface so that
// the same code runs as CUDA kernels (advantages.cu, CudaBackend) and, for testing on machines without a
// GPU, as plain loops on the host (tests/cuda/emulate_main.cpp, HostBackend).
//
// Backend interface (B):
//   using Block = ...;  // a thread block working on one group: tid(), size(), sync(), any(bool), max(double)
//   for_each(n, f)                  f(uint32_t i) for every i < n, in parallel
//   for_each_counted(count, bound, f)  the same for i < *count (a device counter), with *count <= bound
//   per_group(G, f)                 f(const Block&, uint32_t g) for every group, one block per group
//   sort_pairs(kin, kout, vin, vout, n, bits)  stable radix sort of n (uint64 key, uint32 value) pairs by
//                                   the low `bits` key bits (keys must be < 2^bits)
//   exclusive_sum(in, out, n)       uint32 exclusive prefix sum
//   fill(p, byte, bytes), to_host_async(dst, src, bytes), synchronize(), to_device(dst, src, bytes)
//
// The numbers (SPEC.md, docs/cuda.md)
// - Rows are validated on the device; the first offending row and the CPU engine's message are reported.
// - Trajectories are sorted by group id (stable), so each group's rows ("edges") are contiguous and in batch
//   order, which is the CPU engine's group row order.
// - Nodes: the distinct (group, fingerprint) pairs, found by a stable radix sort of all endpoints by
//   (group, hi, lo). Group g's nodes are contiguous: its SUCCESS node, then its states. A failed
//   trajectory's own terminal node is encoded in the edge's target as -(t + 1) and has distance D.
//   The numbering differs from the CPU's (first appearance) but no result depends on node numbers.
// - Out-edges of each node in row order (stable sort by source node) = the CPU's step groups.
// - Shortest distances: Bellman-Ford relaxation d(u) = min(d(u), fl(d(v) + c)) in place, one thread block
//   per group, until nothing changes. Its fixed point is the minimum over paths of the floating-point path
//   sums, which is exactly what the CPU's BFS (unit costs) and Dijkstra compute: x -> fl(x + c) is monotone
//   and never decreases for c > 0, so Dijkstra's label-setting argument holds for it and both return the
//   same minimum, bit for bit.
// - Expected distances: the CPU's Jacobi iteration with the same per-(state, action) model (actions and
//   outcomes in order of first appearance, mean cost summed in row order), the same sums in the same order
//   and the same stopping rule, so every iterate is bit-identical.
// - omega ** exponent: the distinct exponents are copied to the host, raised with std::pow exactly like the
//   CPU engine (whose memo table holds std::pow results too), and copied back.
// - Normalizations run sequentially per segment, in row order, with the CPU's operations.
#pragma once

#include <cstdint>
#include <string>

#include "graphgpo/cuda.hpp"
#include "graphgpo/error.hpp"
#include "graphgpo/estimator_registry.hpp"
#include "graphgpo/options.hpp"
#include "hd.cuh"
#include "stage_distances.cuh"
#include "stage_episode.cuh"
#include "stage_graph.cuh"
#include "stage_rows.cuh"
#include "stage_steps.cuh"
#include "workspace.cuh"

// The stages, in order (each in its own file; the buffers they share: workspace.cuh):
//   1. find_trajectories    stage_rows.cuh      runs of rows, the per-row rules
//   2. order_by_group       stage_rows.cuh      groups and edges; the first offending row is reported
//   3. episode_advantage    stage_episode.cuh   A_E per edge (grpo stops here)
//   4. build_state_graph    stage_graph.cuh     nodes and out-edges (step groups)
//   5. step returns         stage_steps.cuh     gigpo: discounted_step_returns; graphgpo: distances
//                                               (stage_distances.cuh) and distance_step_returns
//   6. step_advantages      stage_steps.cuh     normalized within step groups, combined with A_E

namespace graphgpo {
namespace cuda_impl {

using cuda::DeviceBatch;

// The CUDA path runs the registered estimators whose entry says supports_cuda (estimator_registry.cpp);
// any other is refused before anything runs.
inline void require_cuda_support(Method method) {
  if (!estimator(method).supports_cuda)
    fail(std::string(method_name(method)) + " is not implemented on the CUDA path; use graphgpo.advantages (CPU)");
}

// Host-side checks made before anything runs, in the CPU engine's order and with its messages.
inline void check_batch(Method method, const DeviceBatch& b, const Options& o) {
  require_cuda_support(method);
  validate_options(o);
  if (o.merge == Merge::Similar && estimator(method).reads("states"))
    fail("merge='similar' compares texts and runs on the CPU engine only (graphgpo.advantages)");
  if (b.n == 0) return;
  if (b.n > cuda::kMaxDeviceRows)
    fail("the CUDA path takes at most " + std::to_string(cuda::kMaxDeviceRows) + " rows, got " + std::to_string(b.n));
  if (!b.group || !b.trajectory || !b.state || !b.success) fail("group, trajectory, state and success are required");
  if (estimator(method).reads("distance") && o.distance == DistanceKind::Expected && !b.action)
    fail("distance='expected' needs the action of every row");
}

// ---------------------------------------------------------------------------------------------------
// The pipeline. `w` was carved for shape_of(method, batch.n, o); everything is validated by the caller
// except the row rules, which are checked here before anything is written to `out`.

// With `next_distance` (graphgpo only), also writes each row's d(next node) there; with `out` null it stops
// after that.
template <class B>
void run_pipeline(B& be, Method method, const DeviceBatch& batch, const Options& o, double* out, const Work& w,
                  double* next_distance = nullptr) {
  const Shape shape = shape_of(method, batch.n, o);
  const uint32_t T = find_trajectories(be, batch, w);
  const uint32_t G = order_by_group(be, batch, w, T);
  episode_advantage(be, batch, o, w, T, G);
  if (!shape.graph) {  // grpo: A = A_E
    const Work W = w;
    be.for_each(static_cast<uint32_t>(batch.n), [=] GG_HD(uint32_t i) { out[i] = W.edges.episode_adv[W.rows.edge[i]]; });
    be.synchronize();
    return;
  }
  const uint32_t node_bound = build_state_graph(be, batch, shape, w, G);
  if (method == Method::Gigpo) {
    discounted_step_returns(be, batch, o, w, T);
  } else if (!distance_step_returns(be, batch, o, w, T, G, node_bound, out, next_distance)) {
    return;  // only the distances were asked for
  }
  penalize_invalid_steps(be, batch, o, w);
  step_advantages(be, o, w, node_bound, out);
}

}  // namespace cuda_impl
}  // namespace graphgpo
