#include "graphgpo/graph.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

// Fingerprint {0, 0} is reserved for "no state" (fingerprint.hpp): as a row's next_state it means absent.
bool is_no_state(const Fingerprint& f) { return f.lo == 0 && f.hi == 0; }

// Counting sort of edges by one endpoint: offsets[v] .. offsets[v+1] lists edges in ascending order.
void build_csr(const std::vector<int32_t>& endpoint, size_t num_nodes, std::vector<int64_t>& offsets,
               std::vector<int64_t>& edges) {
  offsets.assign(num_nodes + 1, 0);
  for (int32_t v : endpoint) offsets[static_cast<size_t>(v) + 1] += 1;
  for (size_t v = 0; v < num_nodes; ++v) offsets[v + 1] += offsets[v];
  edges.resize(endpoint.size());
  // Fill from the back with offsets[v + 1] as the cursor, then shift: no scratch array needed.
  for (size_t e = endpoint.size(); e-- > 0;) {
    const size_t v = static_cast<size_t>(endpoint[e]) + 1;
    edges[static_cast<size_t>(--offsets[v])] = static_cast<int64_t>(e);
  }
  // Now offsets[v + 1] holds the start of v; restore offsets[v] = start of v.
  for (size_t v = 0; v < num_nodes; ++v) offsets[v] = offsets[v + 1];
  offsets[num_nodes] = static_cast<int64_t>(endpoint.size());
}

}  // namespace

void build_group_graph(const BatchView& b, const BatchLayout& layout, size_t g, GroupGraph& graph,
                       GraphScratch& scratch, bool with_reverse) {
  const size_t num_rows = static_cast<size_t>(layout.group_num_rows[g]);
  graph.has_success = false;
  graph.node_state.clear();
  graph.node_kind.clear();
  graph.edge_row.resize(num_rows);
  graph.edge_src.resize(num_rows);
  graph.edge_dst.resize(num_rows);
  graph.node_state.push_back({0, 0});
  graph.node_kind.push_back(NodeKind::Success);
  // Distinct states: at most one per row plus the first state of each run (two per row with next_state).
  scratch.index.reset((b.next_state ? 2 * num_rows : num_rows) + 2);

  auto node_of = [&](const Fingerprint& f) {
    const int32_t fresh = static_cast<int32_t>(graph.node_kind.size());
    const int32_t node = scratch.index.find_or_insert(f, fresh);
    if (node == fresh) {
      graph.node_state.push_back(f);
      graph.node_kind.push_back(NodeKind::State);
    }
    return node;
  };

  size_t e = 0;
  std::vector<size_t>& terminal_edges = scratch.terminal_edges;  // failed runs ending in their own terminal
  terminal_edges.clear();
  const int64_t t_begin = layout.group_traj_offsets[g];
  const int64_t t_end = layout.group_traj_offsets[g + 1];
  for (int64_t k = t_begin; k < t_end; ++k) {
    const size_t t = static_cast<size_t>(layout.group_trajs[static_cast<size_t>(k)]);
    const size_t lo = static_cast<size_t>(layout.traj_begin[t]);
    const size_t hi = static_cast<size_t>(layout.traj_end[t]);
    const bool succeeded = b.success[lo] != 0;
    graph.has_success |= succeeded;
    for (size_t i = lo; i < hi; ++i, ++e) {
      graph.edge_row[e] = static_cast<int64_t>(i);
      // Without next_state a row starts where the previous one ended: one lookup per row, not two.
      graph.edge_src[e] = (i > lo && !b.next_state) ? graph.edge_dst[e - 1] : node_of(b.state[i]);
      // A row whose next_state is {0, 0} ("no state") has none: SPEC's default applies to that row.
      const Fingerprint* given = b.next_state && !is_no_state(b.next_state[i]) ? &b.next_state[i] : nullptr;
      if (i + 1 < hi) {
        graph.edge_dst[e] = node_of(given ? *given : b.state[i + 1]);
      } else if (succeeded) {
        graph.edge_dst[e] = 0;
      } else if (given) {
        graph.edge_dst[e] = node_of(*given);
      } else {
        terminal_edges.push_back(e);
      }
    }
  }
  // Terminal nodes come after all states so state numbering does not depend on which runs failed.
  for (size_t edge : terminal_edges) {
    graph.edge_dst[edge] = static_cast<int32_t>(graph.node_kind.size());
    graph.node_state.push_back({0, 0});
    graph.node_kind.push_back(NodeKind::Terminal);
  }
  const size_t num_nodes = graph.node_kind.size();
  build_csr(graph.edge_src, num_nodes, graph.out_offsets, graph.out_edges);
  if (with_reverse) {
    build_csr(graph.edge_dst, num_nodes, graph.in_offsets, graph.in_edges);
  } else {
    graph.in_offsets.clear();
    graph.in_edges.clear();
  }
}

}  // namespace v0
}  // namespace graphgpo
