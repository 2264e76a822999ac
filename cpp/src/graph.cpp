#include "graphgpo/graph.hpp"

#include "graphgpo/error.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

// Fingerprint {0, 0} is reserved for "no state" (fingerprint.hpp): as a row's next_state it means absent.
bool is_no_state(const Fingerprint& f) { return f.lo == 0 && f.hi == 0; }

// Merges the state nodes 1 .. S of a graph built so far (no terminal nodes yet) into representatives:
// nodes are renumbered 1 .. R in order of creation and edges (dst -1 = terminal, not yet assigned) follow.
void merge_similar_nodes(const BatchView& b, GroupGraph& graph, GraphScratch& scratch, double threshold) {
  const size_t num_states = graph.node_kind.size() - 1;
  graph.edge_exact_src.assign(graph.edge_src.begin(), graph.edge_src.end());
  SimilarMerger& merger = scratch.merger;
  merger.reset(threshold);
  auto& node_map = scratch.node_map;
  node_map.assign(num_states + 1, 0);
  for (size_t v = 1; v <= num_states; ++v) {
    const size_t before = merger.num_representatives();
    const size_t rep = static_cast<size_t>(merger.add(origin_text(b, graph.node_origin[v])));
    node_map[v] = static_cast<int32_t>(rep + 1);
    if (rep == before) {  // a new representative: node rep + 1 <= v, so compacting in place is safe
      graph.node_state[rep + 1] = graph.node_state[v];
      graph.node_origin[rep + 1] = graph.node_origin[v];
    }
  }
  const size_t num_nodes = merger.num_representatives() + 1;
  graph.node_state.resize(num_nodes);
  graph.node_origin.resize(num_nodes);
  graph.node_kind.resize(num_nodes);
  for (size_t e = 0; e < graph.edge_src.size(); ++e) {
    graph.edge_src[e] = node_map[static_cast<size_t>(graph.edge_src[e])];
    if (graph.edge_dst[e] > 0) graph.edge_dst[e] = node_map[static_cast<size_t>(graph.edge_dst[e])];
  }
}

}  // namespace

void build_csr(const std::vector<int32_t>& endpoint, size_t num_nodes, std::vector<int64_t>& offsets,
               std::vector<int64_t>& edges) {
  static const std::vector<int32_t> kNone;
  build_csr(endpoint, kNone, num_nodes, offsets, edges);
}

void build_csr(const std::vector<int32_t>& endpoint, const std::vector<int32_t>& more, size_t num_nodes,
               std::vector<int64_t>& offsets, std::vector<int64_t>& edges) {
  const size_t num_rows = endpoint.size();
  const size_t total = num_rows + more.size();
  offsets.assign(num_nodes + 1, 0);
  for (int32_t v : endpoint) offsets[static_cast<size_t>(v) + 1] += 1;
  for (int32_t v : more) offsets[static_cast<size_t>(v) + 1] += 1;
  for (size_t v = 0; v < num_nodes; ++v) offsets[v + 1] += offsets[v];
  edges.resize(total);
  // Fill from the back with offsets[v + 1] as the cursor, then shift: no scratch array needed.
  for (size_t k = more.size(); k-- > 0;) {
    const size_t v = static_cast<size_t>(more[k]) + 1;
    edges[static_cast<size_t>(--offsets[v])] = static_cast<int64_t>(num_rows + k);
  }
  for (size_t e = num_rows; e-- > 0;) {
    const size_t v = static_cast<size_t>(endpoint[e]) + 1;
    edges[static_cast<size_t>(--offsets[v])] = static_cast<int64_t>(e);
  }
  // Now offsets[v + 1] holds the start of v; restore offsets[v] = start of v.
  for (size_t v = 0; v < num_nodes; ++v) offsets[v] = offsets[v + 1];
  offsets[num_nodes] = static_cast<int64_t>(total);
}

namespace {

// The stored edges of the group's task (graph memory): their states join the node index (a state the rows
// also visit is one node; a state only the memory knows has origin -1), their targets may be SUCCESS.
template <typename NodeOf>
void add_stored_edges(const StoredTaskView& stored, GroupGraph& graph, GraphScratch& scratch, NodeOf node_of) {
  scratch.stored_node.resize(stored.num_nodes);
  for (size_t k = 0; k < stored.num_nodes; ++k) scratch.stored_node[k] = node_of(stored.nodes[k], kNoOrigin);
  graph.stored_src.resize(stored.num_edges);
  graph.stored_dst.resize(stored.num_edges);
  graph.stored_cost.resize(stored.num_edges);
  for (size_t k = 0; k < stored.num_edges; ++k) {
    const StoredEdge& edge = stored.edges[k];
    graph.stored_src[k] = scratch.stored_node[edge.src];
    if (edge.dst == kStoredSuccess) {
      graph.stored_dst[k] = 0;
      graph.has_success = true;
    } else {
      graph.stored_dst[k] = scratch.stored_node[edge.dst];
    }
    graph.stored_cost[k] = edge.cost;
    graph.stored_unit_costs &= edge.cost == 1.0;
  }
}

}  // namespace

void build_group_graph(const BatchView& b, const BatchLayout& layout, size_t g, GroupGraph& graph,
                       GraphScratch& scratch, bool with_reverse, const NodeMerging& merging,
                       const StoredTaskView* stored) {
  const size_t num_rows = static_cast<size_t>(layout.group_num_rows[g]);
  graph.has_success = false;
  graph.node_state.clear();
  graph.node_kind.clear();
  graph.edge_row.resize(num_rows);
  graph.edge_src.resize(num_rows);
  graph.edge_dst.resize(num_rows);
  graph.node_origin.clear();
  graph.edge_exact_src.clear();
  graph.node_state.push_back({0, 0});
  graph.node_kind.push_back(NodeKind::Success);
  graph.node_origin.push_back(-1);
  graph.stored_src.clear();
  graph.stored_dst.clear();
  graph.stored_cost.clear();
  graph.stored_unit_costs = true;
  if (stored && merging.similar) fail("graph memory needs merge='exact'");
  // Distinct states: at most one per row plus the first state of each run (two per row with next_state),
  // plus the stored task's states.
  scratch.index.reset((b.next_state ? 2 * num_rows : num_rows) + 2 + (stored ? stored->num_nodes : 0));

  // origin: 2 * row for a row's state, 2 * row + 1 for its given next state (kNoOrigin: a stored state).
  auto node_of = [&](const Fingerprint& f, int64_t origin) {
    const int32_t fresh = static_cast<int32_t>(graph.node_kind.size());
    const int32_t node = scratch.index.find_or_insert(f, fresh);
    if (node == fresh) {
      graph.node_state.push_back(f);
      graph.node_kind.push_back(NodeKind::State);
      graph.node_origin.push_back(origin);
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
      graph.edge_src[e] = (i > lo && !b.next_state) ? graph.edge_dst[e - 1] : node_of(b.state[i], 2 * i);
      // A row whose next_state is {0, 0} ("no state") has none: SPEC's default applies to that row.
      const bool given = b.next_state && !is_no_state(b.next_state[i]);
      if (i + 1 < hi) {
        graph.edge_dst[e] = given ? node_of(b.next_state[i], 2 * i + 1) : node_of(b.state[i + 1], 2 * i + 2);
      } else if (succeeded) {
        graph.edge_dst[e] = 0;
      } else if (given) {
        graph.edge_dst[e] = node_of(b.next_state[i], 2 * i + 1);
      } else {
        graph.edge_dst[e] = -1;
        terminal_edges.push_back(e);
      }
    }
  }
  graph.num_exact_states = static_cast<int64_t>(graph.node_kind.size()) - 1;
  if (merging.similar) merge_similar_nodes(b, graph, scratch, merging.threshold);
  if (stored) add_stored_edges(*stored, graph, scratch, node_of);
  // Terminal nodes come after all states so state numbering does not depend on which runs failed.
  for (size_t edge : terminal_edges) {
    graph.edge_dst[edge] = static_cast<int32_t>(graph.node_kind.size());
    graph.node_state.push_back({0, 0});
    graph.node_kind.push_back(NodeKind::Terminal);
    graph.node_origin.push_back(-1);
  }
  const size_t num_nodes = graph.node_kind.size();
  build_csr(graph.edge_src, num_nodes, graph.out_offsets, graph.out_edges);
  if (with_reverse) {
    build_csr(graph.edge_dst, graph.stored_dst, num_nodes, graph.in_offsets, graph.in_edges);
  } else {
    graph.in_offsets.clear();
    graph.in_edges.clear();
  }
}

}  // namespace v0
}  // namespace graphgpo
