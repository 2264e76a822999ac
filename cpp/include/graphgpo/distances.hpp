// Distance of every node of one group to its SUCCESS node (SPEC "Graph and distance").
//
// - A group without a success: every node gets 1.
// - DistanceKind::Shortest: d(SUCCESS) = 0, d(s) = min over edges s->s' of cost + d(s'); breadth-first
//   search on the reverse CSR when every cost is 1 (no cost array, stored edges of cost 1), Dijkstra
//   otherwise. Stored (memory) edges count like rows here.
// - Nodes that cannot reach SUCCESS get D = (largest finite distance in the group) + 1.
// - DistanceKind::Expected: d(s) = min over actions a seen at s of [mean cost of (s, a) rows + sum over
//   observed outcomes s' of p(s'|s, a) d(s')], by synchronous (Jacobi) Bellman backups that start from D,
//   are clamped at D, and stop when no node moves by 1e-12 or more. Outcomes and actions are summed in
//   order of first appearance, so results are deterministic.
#pragma once

#include <utility>
#include <vector>

#include "graphgpo/batch.hpp"
#include "graphgpo/graph.hpp"
#include "graphgpo/options.hpp"

namespace graphgpo {
inline namespace v0 {

constexpr double kBellmanTolerance = 1e-12;

struct DistanceScratch {
  std::vector<int64_t> queue;
  std::vector<std::pair<double, int32_t>> heap;
  std::vector<double> next_value;
  // Expected-distance model: per state node, its (state, action) blocks, each with its outcomes.
  std::vector<int64_t> node_block_offsets;
  std::vector<double> block_mean_cost;
  std::vector<double> block_total;
  std::vector<int64_t> block_outcome_offsets;
  std::vector<int32_t> outcome_node;
  std::vector<double> outcome_count;
};

// Fills dist (size graph.num_nodes()) and returns D, the distance given to nodes that cannot reach SUCCESS
// (1 in a group without a success).
double compute_distances(const GroupGraph& graph, const BatchView& batch, DistanceKind kind,
                         std::vector<double>& dist, DistanceScratch& scratch);

}  // namespace v0
}  // namespace graphgpo
