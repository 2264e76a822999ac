// The state-transition graph of one group (SPEC "Graph and distance").
//
// Layout
// - Node 0 is the group's SUCCESS node (always present, even in a group without a success).
// - Then the group's distinct states, numbered in order of first appearance when rows are read in batch
//   order (a row's state, then its next state).
// - Then one terminal node per failed trajectory whose last row has no given next_state.
// - Every row is an edge (repeats and self-loops kept); edge e is the e-th row of the group in batch order.
//   The last row of a successful trajectory always points to SUCCESS.
// - CSR, both directions: out_edges[out_offsets[v] .. out_offsets[v+1]) are the edges leaving v, and
//   in_edges[...] those entering v, each in ascending edge order. Building is deterministic: the same
//   rows give the same node ids, edge ids and CSR arrays on any thread count.
// - With a task's stored edges from a GraphMemory (SPEC "Graph memory across calls"), their states are
//   nodes too (after the row states, before the terminals), and each stored edge k is edge num_edges() + k.
//   Stored edges appear in the reverse CSR only: they shape distances, but only rows form step groups.
#pragma once

#include <cstdint>
#include <vector>

#include "graphgpo/batch.hpp"
#include "graphgpo/fingerprint.hpp"
#include "graphgpo/hash_index.hpp"
#include "graphgpo/memory_view.hpp"

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

// Reusable per-thread scratch: the fingerprint index survives from group to group.
struct GraphScratch {
  FingerprintIndex index;
  std::vector<size_t> terminal_edges;
  std::vector<int32_t> stored_node;  // a stored task's node -> graph node
};

// Build group g of a validated batch. Without `with_reverse` the reverse CSR is left empty (callers that
// never search from SUCCESS, like gigpo's step groups, skip it). `stored`: the group's task's edges in a
// GraphMemory, or null.
void build_group_graph(const BatchView& batch, const BatchLayout& layout, size_t g, GroupGraph& graph,
                       GraphScratch& scratch, bool with_reverse = true, const StoredTaskView* stored = nullptr);

}  // namespace v0
}  // namespace graphgpo
