// The device pipeline's scratch (pipeline.cuh): every buffer, grouped by what it describes, carved from one
// allocation. Sizes are bounds in n, the row count (trajectories T and groups G are at most n).
//
// Indexing vocabulary used across the stages:
//   row i       a batch row, in batch order
//   trajectory t  a run of rows (in batch order of first row)
//   edge e      a row's position in group row order (each group's rows contiguous, trajectory after
//               trajectory, batch order within): the CPU engine's edge numbering
//   node v      a distinct (group, state), or a group's SUCCESS node: group g's nodes are contiguous, its
//               SUCCESS node first (v = g + groups.states_before[g])
//   item k      an endpoint to number: k < n is edge k's source, n + k its target (graphgpo only)
//   position k  a place in the out-edge order (edges sorted by source node, stable)
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "graphgpo/estimator_registry.hpp"
#include "graphgpo/options.hpp"
#include "hd.cuh"

namespace graphgpo {
namespace cuda_impl {

// Device counters (Work::counters).
enum Counter : int { kCountGroups = 0, kCountNodes = 1, kNumCounters = 4 };

struct RowBuffers {  // n each
  uint8_t* verdict = nullptr;  // RowError of the row (stage_rows.cuh)
  uint32_t* traj = nullptr;    // row -> trajectory
  uint32_t* edge = nullptr;    // row -> edge
};

struct TrajectoryBuffers {  // n each (T <= n)
  uint32_t* begin = nullptr;       // first row
  uint32_t* end = nullptr;         // one past the last row
  uint64_t* id_key = nullptr;      // trajectory id as a sortable key
  uint64_t* group_key = nullptr;   // group id as a sortable key
  uint32_t* group = nullptr;       // trajectory -> group
  uint32_t* sorted_pos = nullptr;  // trajectory -> position in the group-sorted order
  uint32_t* by_group = nullptr;    // group-sorted position -> trajectory
  uint32_t* first_edge = nullptr;  // trajectory -> its first edge
  double* score = nullptr;         // episode reward (per_trajectory: minus the invalid penalties)
};

struct GroupBuffers {  // n + 1 each (G + 1 used)
  uint32_t* traj_begin = nullptr;     // first group-sorted trajectory position; [G] = T
  uint32_t* edge_begin = nullptr;     // first edge; [G] = n
  uint32_t* states_before = nullptr;  // distinct states of the groups before g; [G] = all of them
  uint8_t* has_success = nullptr;     // some trajectory of the group succeeded
  double* far = nullptr;              // D: the distance of nodes that cannot reach SUCCESS
};

struct EdgeBuffers {  // n each
  uint32_t* row = nullptr;          // edge -> row
  double* episode_adv = nullptr;    // A_E
  double* scratch = nullptr;        // values being normalized
  double* step_return = nullptr;    // R_S
};

// Shared scratch of the prefix sums (max(n, items) + 1) and of the radix sorts (max(n, items)).
struct ScanBuffers {
  uint32_t* in = nullptr;
  uint32_t* out = nullptr;
};
struct SortBuffers {
  uint64_t* keys_in = nullptr;
  uint64_t* keys_out = nullptr;
  uint32_t* values_in = nullptr;
  uint32_t* values_out = nullptr;
};

struct EndpointBuffers {  // items each: the (group, fingerprint) keys of every endpoint to number
  uint64_t* lo = nullptr;
  uint64_t* hi = nullptr;
  uint32_t* group = nullptr;  // G for an endpoint that is not a state (SUCCESS, terminal): sorts last
};

struct GraphBuffers {  // gigpo, graphgpo
  uint32_t* src = nullptr;        // edge -> source node (n)
  int32_t* dst = nullptr;         // edge -> target node, or -(t + 1) for trajectory t's terminal node (n)
  uint8_t* dst_kind = nullptr;    // edge -> DstKind (n)
  uint32_t* out_edge = nullptr;   // position -> edge (n)
  uint32_t* out_src = nullptr;    // position -> source node (n)
  uint32_t* node_group = nullptr;  // node -> group (nodes)
  uint32_t* out_begin = nullptr;  // node -> first position of its out-edges (nodes)
  uint32_t* out_end = nullptr;    // node -> one past the last (nodes)
};

struct DistanceBuffers {  // graphgpo
  double* node = nullptr;             // distance to SUCCESS per node (nodes)
  double* next = nullptr;             // the next Jacobi iterate (expected distances; nodes)
  uint32_t* exponent_index = nullptr;  // edge -> index of its distinct exponent of omega (n)
  double* powers = nullptr;           // omega ** each distinct exponent, from the host (n)
};

// The expected-distance model (distance="expected"): a block is one (node, action), its members are
// out-edge positions in row order; an outcome is a distinct target node of a block, with its count. n each.
struct ModelBuffers {
  uint32_t* by_block = nullptr;       // positions sorted by (node, action), stable
  uint32_t* block_rank = nullptr;     // position -> rank of the block that starts there (exclusive scan, n + 1)
  uint32_t* block_of = nullptr;       // position -> its block
  uint32_t* block_start = nullptr;    // block -> first index into by_block
  uint32_t* block_size = nullptr;     // block -> member count
  uint32_t* outcome_begin = nullptr;  // block -> first outcome slot
  uint32_t* outcome_end = nullptr;    // block -> one past the last
  uint32_t* outcome_first = nullptr;  // position -> 1 if it starts a (block, outcome) run
  uint32_t* run_length = nullptr;     // position starting a run -> the run's length
  uint32_t* outcome_node = nullptr;   // slot -> target node (or terminal key)
  double* mean_cost = nullptr;        // block -> mean cost of its rows
  double* rows = nullptr;             // block -> member count, as a double
  double* outcome_count = nullptr;    // slot -> how often the outcome was observed
};

struct Work {
  RowBuffers rows;
  TrajectoryBuffers traj;
  GroupBuffers groups;
  EdgeBuffers edges;
  ScanBuffers scan;
  SortBuffers sort;
  EndpointBuffers endpoints;
  GraphBuffers graph;
  DistanceBuffers dist;
  ModelBuffers model;
  uint32_t* counters = nullptr;    // kNumCounters
  uint64_t* first_error = nullptr;  // (row << 3) | RowError of the first offending row, or all ones
  // the backend's sort/scan scratch
  void* temp = nullptr;
  size_t temp_bytes = 0;
};

// What one call needs: which buffers exist and how large the endpoint sort is.
struct Shape {
  size_t n = 0;
  size_t items = 0;  // endpoints sorted to number the nodes
  bool graph = false;
  bool distances = false;
  bool expected = false;
  size_t sort_items() const { return n > items ? n : items; }
  size_t node_bound() const { return n + items; }  // G + items, G <= n
};

inline Shape shape_of(Method method, size_t n, const Options& o) {
  const EstimatorSpec& spec = estimator(method);
  Shape s;
  s.n = n;
  s.graph = spec.builds_graph;
  s.distances = spec.reads("distance");
  s.expected = s.distances && o.distance == DistanceKind::Expected;
  s.items = s.distances ? 2 * n : (s.graph ? n : 0);
  return s;
}

// Carves the buffers of `shape` from `base` (nullptr: only measures). Returns the bytes used.
inline size_t carve(char* base, const Shape& s, size_t temp_bytes, Work& w) {
  size_t offset = 0;
  auto take = [&](auto*& p, size_t count) {
    using T = std::remove_reference_t<decltype(*p)>;
    offset = (offset + 255) & ~size_t(255);
    p = base ? reinterpret_cast<T*>(base + offset) : nullptr;
    offset += (count ? count : 1) * sizeof(T);
  };
  const size_t n = s.n;
  const size_t scan = s.sort_items() + 1;
  take(w.rows.verdict, n);
  take(w.scan.in, scan);
  take(w.scan.out, scan);
  take(w.rows.traj, n);
  take(w.rows.edge, n);
  take(w.edges.row, n);
  take(w.traj.begin, n);
  take(w.traj.end, n);
  take(w.traj.id_key, n);
  take(w.traj.group_key, n);
  take(w.traj.group, n);
  take(w.traj.sorted_pos, n);
  take(w.traj.by_group, n);
  take(w.traj.first_edge, n);
  take(w.traj.score, n);
  take(w.groups.traj_begin, n + 1);
  take(w.groups.edge_begin, n + 1);
  take(w.groups.states_before, n + 1);
  take(w.groups.has_success, n);
  take(w.groups.far, n);
  take(w.counters, kNumCounters);
  take(w.first_error, 1);
  take(w.edges.episode_adv, n);
  take(w.edges.scratch, n);
  take(w.edges.step_return, n);
  take(w.sort.keys_in, s.sort_items());
  take(w.sort.keys_out, s.sort_items());
  take(w.sort.values_in, s.sort_items());
  take(w.sort.values_out, s.sort_items());
  if (s.graph) {
    const size_t nodes = s.node_bound() + 1;
    take(w.graph.src, n);
    take(w.graph.dst, n);
    take(w.graph.dst_kind, n);
    take(w.graph.out_edge, n);
    take(w.graph.out_src, n);
    take(w.endpoints.lo, s.items);
    take(w.endpoints.hi, s.items);
    take(w.endpoints.group, s.items);
    take(w.graph.node_group, nodes);
    take(w.graph.out_begin, nodes);
    take(w.graph.out_end, nodes);
    if (s.distances) {
      take(w.dist.node, nodes);
      take(w.dist.exponent_index, n);
      take(w.dist.powers, n);
    }
    if (s.expected) {
      take(w.dist.next, nodes);
      take(w.model.by_block, n);
      take(w.model.block_rank, n + 1);
      take(w.model.block_of, n);
      take(w.model.block_start, n);
      take(w.model.block_size, n);
      take(w.model.outcome_begin, n);
      take(w.model.outcome_end, n);
      take(w.model.outcome_first, n);
      take(w.model.run_length, n);
      take(w.model.outcome_node, n);
      take(w.model.mean_cost, n);
      take(w.model.rows, n);
      take(w.model.outcome_count, n);
    }
  }
  offset = (offset + 255) & ~size_t(255);
  w.temp = base ? base + offset : nullptr;
  w.temp_bytes = temp_bytes;
  offset += temp_bytes;
  return offset;
}

}  // namespace cuda_impl
}  // namespace graphgpo
