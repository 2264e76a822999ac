#include "graphgpo/distances.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>

#include "graphgpo/error.hpp"
#include "graphgpo/hash_index.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void breadth_first(const GroupGraph& g, std::vector<double>& dist, DistanceScratch& s) {
  auto& queue = s.queue;
  queue.clear();
  queue.push_back(0);
  dist[0] = 0.0;
  for (size_t head = 0; head < queue.size(); ++head) {
    const int64_t v = queue[head];
    const double next = dist[static_cast<size_t>(v)] + 1.0;
    for (int64_t k = g.in_offsets[static_cast<size_t>(v)]; k < g.in_offsets[static_cast<size_t>(v) + 1]; ++k) {
      const int32_t u = g.source_of(g.in_edges[static_cast<size_t>(k)]);
      if (dist[static_cast<size_t>(u)] == kInf) {
        dist[static_cast<size_t>(u)] = next;
        queue.push_back(u);
      }
    }
  }
}

// A row edge's cost (1 without a cost array) or a stored edge's.
inline double edge_cost(const GroupGraph& g, const double* cost, size_t e) {
  const size_t rows = g.edge_row.size();
  if (e >= rows) return g.stored_cost[e - rows];
  return cost ? cost[g.edge_row[e]] : 1.0;
}

void dijkstra(const GroupGraph& g, const double* cost, std::vector<double>& dist, DistanceScratch& s) {
  auto& heap = s.heap;
  heap.clear();
  const auto later = std::greater<std::pair<double, int32_t>>();
  dist[0] = 0.0;
  heap.emplace_back(0.0, 0);
  std::vector<std::pair<int32_t, size_t>> overflowed;  // (node, row) of path costs beyond float64; rare
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const auto [d, v] = heap.back();
    heap.pop_back();
    if (d > dist[static_cast<size_t>(v)]) continue;  // stale entry
    for (int64_t k = g.in_offsets[static_cast<size_t>(v)]; k < g.in_offsets[static_cast<size_t>(v) + 1]; ++k) {
      const size_t e = static_cast<size_t>(g.in_edges[static_cast<size_t>(k)]);
      const int32_t u = g.source_of(static_cast<int64_t>(e));
      const double candidate = d + edge_cost(g, cost, e);
      if (candidate == kInf)  // a stored (memory) edge has no row: SIZE_MAX
        overflowed.emplace_back(u, e < g.edge_row.size() ? static_cast<size_t>(g.edge_row[e]) : SIZE_MAX);
      if (candidate < dist[static_cast<size_t>(u)]) {
        dist[static_cast<size_t>(u)] = candidate;
        heap.emplace_back(candidate, u);
        std::push_heap(heap.begin(), heap.end(), later);
      }
    }
  }
  // A state whose only paths to SUCCESS cost more than float64 holds would look unreachable.
  size_t overflow_row = SIZE_MAX;
  for (const auto& [u, row] : overflowed)
    if (dist[static_cast<size_t>(u)] == kInf) overflow_row = std::min(overflow_row, row);
  bool overflowed_stored = false;
  for (const auto& [u, row] : overflowed)
    overflowed_stored |= row == SIZE_MAX && dist[static_cast<size_t>(u)] == kInf;
  if (overflow_row != SIZE_MAX)
    row_fail(overflow_row, "cost: the path cost from this row to SUCCESS is beyond the float64 range");
  if (overflowed_stored) fail("cost: a path cost to SUCCESS through stored (memory) edges is beyond the float64 range");
}

// A key for FingerprintIndex that stands for the pair (owner, item) exactly: hi is the item, and lo mixes
// the item with the owner through bijections, so that (lo, hi) gives back both (and lo is well spread).
Fingerprint pair_key(uint64_t owner, int64_t item) {
  const uint64_t value = static_cast<uint64_t>(item);
  return Fingerprint{mix_id(value ^ mix_id(owner + 0x9E3779B97F4A7C15ULL)), value};
}

// Per (state, action) block: mean cost, row count, and outcome counts, in order of first appearance (blocks
// of a node in the order their actions first appear among its rows; outcomes likewise). Hash-numbered, so
// linear in the group's rows however many actions a state or outcomes an action has.
void build_action_model(const GroupGraph& g, const BatchView& b, DistanceScratch& s) {
  const size_t num_nodes = static_cast<size_t>(g.num_nodes());
  const size_t num_edges = static_cast<size_t>(g.num_edges());
  s.node_block_offsets.assign(num_nodes + 1, 0);
  s.edge_block.resize(num_edges);  // block of the k-th edge in out-CSR order
  // Blocks: number (node, action) pairs in out-CSR order, so a node's blocks are contiguous.
  s.index.reset(num_edges + 1);
  int32_t num_blocks = 0;
  for (size_t v = 0; v < num_nodes; ++v) {
    for (int64_t k = g.out_offsets[v]; k < g.out_offsets[v + 1]; ++k) {
      const int64_t a = b.action[g.edge_row[static_cast<size_t>(g.out_edges[static_cast<size_t>(k)])]];
      const int32_t block = s.index.find_or_insert(pair_key(v, a), num_blocks);
      if (block == num_blocks) ++num_blocks;
      s.edge_block[static_cast<size_t>(k)] = block;
    }
    s.node_block_offsets[v + 1] = num_blocks;
  }
  const size_t blocks = static_cast<size_t>(num_blocks);
  // Each block's edges, in out-CSR order (counting sort by block).
  s.block_edge_offsets.assign(blocks + 1, 0);
  for (size_t k = 0; k < num_edges; ++k) s.block_edge_offsets[static_cast<size_t>(s.edge_block[k]) + 1] += 1;
  for (size_t blk = 0; blk < blocks; ++blk) s.block_edge_offsets[blk + 1] += s.block_edge_offsets[blk];
  s.block_edges.resize(num_edges);
  s.cursor.assign(s.block_edge_offsets.begin(), s.block_edge_offsets.end() - 1);
  for (size_t k = 0; k < num_edges; ++k)
    s.block_edges[static_cast<size_t>(s.cursor[static_cast<size_t>(s.edge_block[k])]++)] = g.out_edges[k];
  // Mean cost and outcomes of each block; outcomes numbered per block, so they are contiguous too.
  s.block_mean_cost.resize(blocks);
  s.block_total.resize(blocks);
  s.block_outcome_offsets.assign(1, 0);
  s.outcome_node.clear();
  s.outcome_count.clear();
  s.index.reset(num_edges + 1);
  for (size_t blk = 0; blk < blocks; ++blk) {
    const int64_t* first = s.block_edges.data() + s.block_edge_offsets[blk];
    const int64_t* last = s.block_edges.data() + s.block_edge_offsets[blk + 1];
    const double count = static_cast<double>(last - first);
    double cost_sum = 0.0;
    for (const int64_t* e = first; e < last; ++e) cost_sum += b.cost ? b.cost[g.edge_row[static_cast<size_t>(*e)]] : 1.0;
    double mean_cost = cost_sum / count;
    if (!std::isfinite(mean_cost)) {  // the sum overflowed; the mean of finite costs is finite
      mean_cost = 0.0;
      for (const int64_t* e = first; e < last; ++e) mean_cost += b.cost[g.edge_row[static_cast<size_t>(*e)]] / count;
    }
    s.block_mean_cost[blk] = mean_cost;
    s.block_total[blk] = count;
    for (const int64_t* e = first; e < last; ++e) {
      const int32_t target = g.edge_dst[static_cast<size_t>(*e)];
      const int32_t fresh = static_cast<int32_t>(s.outcome_node.size());
      const int32_t o = s.index.find_or_insert(pair_key(blk, target), fresh);
      if (o == fresh) {
        s.outcome_node.push_back(target);
        s.outcome_count.push_back(0.0);
      }
      s.outcome_count[static_cast<size_t>(o)] += 1.0;
    }
    s.block_outcome_offsets.push_back(static_cast<int64_t>(s.outcome_node.size()));
  }
}

// Q-value of block k at node v under dist: c + sum_o p_o d(o), with the self-loop outcome o = v solved in
// closed form: x = c + p_self x + r has the solution x = (c + r) / (1 - p_self), written below with counts
// (stay = rows that leave v). Without a self-loop this is exactly c + sum_o n_o d(o) / total. A block that
// only loops (stay = 0) never improves on v's value: +inf.
double block_value(const DistanceScratch& s, size_t v, size_t k, const std::vector<double>& dist) {
  const int64_t first = s.block_outcome_offsets[k];
  const int64_t last = s.block_outcome_offsets[k + 1];
  double stay = s.block_total[k];
  double weighted = 0.0;
  for (int64_t o = first; o < last; ++o) {
    const size_t node = static_cast<size_t>(s.outcome_node[static_cast<size_t>(o)]);
    if (node == v) {
      stay -= s.outcome_count[static_cast<size_t>(o)];
    } else {
      weighted += s.outcome_count[static_cast<size_t>(o)] * dist[node];
    }
  }
  if (stay == 0.0) return std::numeric_limits<double>::infinity();
  double expected = weighted / stay;
  if (!std::isfinite(expected)) {  // counts times distances near 1e308 overflowed; their mean did not
    expected = 0.0;
    for (int64_t o = first; o < last; ++o) {
      const size_t node = static_cast<size_t>(s.outcome_node[static_cast<size_t>(o)]);
      if (node != v) expected += s.outcome_count[static_cast<size_t>(o)] / stay * dist[node];
    }
  }
  return s.block_mean_cost[k] * (s.block_total[k] / stay) + expected;
}

// SPEC's expected distances: the fixed point of d(s) = min(D, min_a [c(s,a) + sum_s' p(s'|s,a) d(s')]),
// d(SUCCESS) = 0, approached from d = D. The backups are Gauss-Seidel sweeps (each node sees the values
// updated earlier in the same sweep) over the nodes that can reach SUCCESS, in order of their shortest
// distance (ties: the first row leaving the node), with self-loops solved in closed form (block_value):
// the same fixed point as SPEC's Jacobi backups (a solution of one is a solution of the other, and both
// decrease monotonically from D to the largest one), reached in a few sweeps where Jacobi needed about one
// sweep per hop and ~1/(1 - p) sweeps per self-loop of probability p. Nodes that cannot reach SUCCESS keep
// D. Stops when a sweep moves no node by kBellmanTolerance or more. The CUDA pipeline runs the same
// sweeps operation for operation (cpp/src/cuda/pipeline.cuh), so both give the same bits.
void bellman(const GroupGraph& g, const BatchView& b, double far, std::vector<double>& dist, DistanceScratch& s) {
  build_action_model(g, b, s);
  const size_t num_nodes = static_cast<size_t>(g.num_nodes());
  auto& order = s.order;
  order.clear();
  for (size_t v = 1; v < num_nodes; ++v)
    if (dist[v] < far) order.push_back(static_cast<int32_t>(v));
  // By shortest distance, ties by the first row leaving the node: unique keys that do not depend on node
  // numbering, so the CUDA pipeline (other numbering) sweeps in the same order.
  const auto first_row = [&](int32_t v) {
    return g.edge_row[static_cast<size_t>(g.out_edges[static_cast<size_t>(g.out_offsets[static_cast<size_t>(v)])])];
  };
  std::sort(order.begin(), order.end(), [&](int32_t x, int32_t y) {
    const double dx = dist[static_cast<size_t>(x)], dy = dist[static_cast<size_t>(y)];
    return dx < dy || (dx == dy && first_row(x) < first_row(y));
  });
  for (size_t v = 1; v < num_nodes; ++v) dist[v] = far;
  dist[0] = 0.0;
  while (true) {
    double change = 0.0;
    for (const int32_t node : order) {
      const size_t v = static_cast<size_t>(node);
      double best = far;
      for (int64_t k = s.node_block_offsets[v]; k < s.node_block_offsets[v + 1]; ++k)
        best = std::min(best, block_value(s, v, static_cast<size_t>(k), dist));
      change = std::max(change, std::fabs(best - dist[v]));
      dist[v] = best;
    }
    if (change < kBellmanTolerance) return;
  }
}

}  // namespace

double compute_distances(const GroupGraph& g, const BatchView& b, DistanceKind kind, std::vector<double>& dist,
                         DistanceScratch& s) {
  const size_t num_nodes = static_cast<size_t>(g.num_nodes());
  if (!g.has_success) {
    dist.assign(num_nodes, 1.0);
    return 1.0;
  }
  dist.assign(num_nodes, kInf);
  if (b.cost || !g.stored_unit_costs) {
    dijkstra(g, b.cost, dist, s);
  } else {
    breadth_first(g, dist, s);
  }
  double largest = 0.0;
  for (double d : dist)
    if (d != kInf) largest = std::max(largest, d);
  const double far = largest + 1.0;
  for (double& d : dist)
    if (d == kInf) d = far;
  if (kind == DistanceKind::Expected) bellman(g, b, far, dist, s);
  return far;
}

}  // namespace v0
}  // namespace graphgpo
