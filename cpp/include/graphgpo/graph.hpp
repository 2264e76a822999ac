// The state-transition graph of one group (SPEC "Graph and distance").
//
// Layout
// - Node 0 is the group's SUCCESS node (always present, even in a group without a success).
// - Then the group's distinct states, numbered in order of first appearance when rows are read in batch
//   order (a row's state, then its next state).
// - Then one terminal node per failed trajectory whose last row has no given next_state (none passed, or
//   {0, 0}, "no state", for that row; a non-last row without one goes to the next row's state).
// - Every row is an edge (repeats and self-loops kept); edge e is the e-th row of the group in batch order.
//   The last row of a successful trajectory always points to SUCCESS.
// - CSR, both directions: out_edges[out_offsets[v] .. out_offsets[v+1]) are the edges leaving v, and
//   in_edges[...] those entering v, each in ascending edge order. Building is deterministic: the same
//   rows give the same node ids, edge ids and CSR arrays on any thread count.
// - With merge="similar" (SPEC "Merging similar states") the state nodes are the representatives instead,
//   in order of creation: the distinct states are offered in the order above to a greedy first-fit merger
//   (state_merge.hpp), and every edge is redirected to its endpoints' representatives. edge_exact_src
//   keeps each edge's exact start state, for step groups that stay exact.
// - With a task's stored edges from a GraphMemory (SPEC "Graph memory across calls"; exact merging only),
//   their states are nodes too (after the row states, before the terminals), and each stored edge k is edge
//   num_edges() + k. Stored edges appear in the reverse CSR only: they shape distances, but only rows form
//   step groups.
#pragma once

#include <cstdint>
#include <vector>

#include "graphgpo/batch.hpp"
#include "graphgpo/fingerprint.hpp"
#include "graphgpo/hash_index.hpp"
#include "graphgpo/memory_view.hpp"
#include "graphgpo/state_merge.hpp"

namespace graphgpo {
inline namespace v0 {

enum class NodeKind : uint8_t { State = 0, Success = 1, Terminal = 2 };

struct GroupGraph {
  bool has_success = false;
  std::vector<Fingerprint> node_state;  // {0, 0} for SUCCESS and terminal nodes
  std::vector<NodeKind> node_kind;
  std::vector<int64_t> edge_row;  // global row index of each edge
  std::vector<int32_t> edge_src;
  std::vector<int32_t> edge_dst;
  std::vector<int64_t> out_offsets, out_edges;
  std::vector<int64_t> in_offsets, in_edges;
  // Per node, where its state (the representative, when merged) first appears: 2 * row for a row's state,
  // 2 * row + 1 for its given next_state; -1 for SUCCESS, terminal nodes and states only a memory holds.
  std::vector<int64_t> node_origin;
  int64_t num_exact_states = 0;         // distinct states before any merging
  std::vector<int32_t> edge_exact_src;  // merged graphs only: exact start state (1 .. num_exact_states)
  // Stored (memory) edges, edge ids num_edges() + k; empty without memory.
  std::vector<int32_t> stored_src, stored_dst;
  std::vector<double> stored_cost;
  bool stored_unit_costs = true;  // every stored cost is 1 (breadth-first search still applies)

  int64_t num_nodes() const { return static_cast<int64_t>(node_kind.size()); }
  int64_t num_edges() const { return static_cast<int64_t>(edge_row.size()); }  // row edges only
  // Source node of a row edge or a stored edge (ids as in the reverse CSR).
  int32_t source_of(int64_t e) const {
    const int64_t rows = num_edges();
    return e < rows ? edge_src[static_cast<size_t>(e)] : stored_src[static_cast<size_t>(e - rows)];
  }
};

// node_origin of a state only a graph memory holds.
constexpr int64_t kNoOrigin = -1;

// How states become nodes: by exact fingerprint, or merged when similar (needs the batch's texts).
struct NodeMerging {
  bool similar = false;
  double threshold = 0.95;
};

// Reusable per-thread scratch: the fingerprint index and the merger survive from group to group.
struct GraphScratch {
  FingerprintIndex index;
  std::vector<size_t> terminal_edges;
  SimilarMerger merger;
  std::vector<int32_t> node_map;
  std::vector<int32_t> stored_node;  // a stored task's node -> graph node
};

// Build group g of a validated batch. Without `with_reverse` the reverse CSR is left empty (callers that
// never search from SUCCESS, like gigpo's step groups, skip it).
void build_group_graph(const BatchView& batch, const BatchLayout& layout, size_t g, GroupGraph& graph,
                       GraphScratch& scratch, bool with_reverse = true, const NodeMerging& merging = {},
                       const StoredTaskView* stored = nullptr);

// The text of a node origin (see GroupGraph::node_origin).
inline const TextRef& origin_text(const BatchView& batch, int64_t origin) {
  const size_t row = static_cast<size_t>(origin >> 1);
  return (origin & 1) ? batch.next_state_text[row] : batch.state_text[row];
}

// Counting sort of edges by one endpoint (or any key in [0, num_keys)): offsets[v] .. offsets[v+1] lists
// the edges with key v, in ascending edge order.
void build_csr(const std::vector<int32_t>& endpoint, size_t num_keys, std::vector<int64_t>& offsets,
               std::vector<int64_t>& edges);
// The same over the edges of endpoint followed by more (edge endpoint.size() + k has key more[k]).
void build_csr(const std::vector<int32_t>& endpoint, const std::vector<int32_t>& more, size_t num_keys,
               std::vector<int64_t>& offsets, std::vector<int64_t>& edges);

}  // namespace v0
}  // namespace graphgpo
