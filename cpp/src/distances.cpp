#include "graphgpo/distances.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

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
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const auto [d, v] = heap.back();
    heap.pop_back();
    if (d > dist[static_cast<size_t>(v)]) continue;  // stale entry
    for (int64_t k = g.in_offsets[static_cast<size_t>(v)]; k < g.in_offsets[static_cast<size_t>(v) + 1]; ++k) {
      const size_t e = static_cast<size_t>(g.in_edges[static_cast<size_t>(k)]);
      const int32_t u = g.source_of(static_cast<int64_t>(e));
      const double candidate = d + edge_cost(g, cost, e);
      if (candidate < dist[static_cast<size_t>(u)]) {
        dist[static_cast<size_t>(u)] = candidate;
        heap.emplace_back(candidate, u);
        std::push_heap(heap.begin(), heap.end(), later);
      }
    }
  }
}

// Per (state, action): mean cost and outcome counts, in order of first appearance.
void build_action_model(const GroupGraph& g, const BatchView& b, DistanceScratch& s) {
  const size_t num_nodes = static_cast<size_t>(g.num_nodes());
  s.node_block_offsets.assign(num_nodes + 1, 0);
  s.block_mean_cost.clear();
  s.block_total.clear();
  s.block_outcome_offsets.assign(1, 0);
  s.outcome_node.clear();
  s.outcome_count.clear();
  std::vector<int64_t> block_action;
  std::vector<std::vector<int64_t>> block_edges;
  for (size_t v = 0; v < num_nodes; ++v) {
    block_action.clear();
    block_edges.clear();
    for (int64_t k = g.out_offsets[v]; k < g.out_offsets[v + 1]; ++k) {
      const int64_t e = g.out_edges[static_cast<size_t>(k)];
      const int64_t a = b.action[g.edge_row[static_cast<size_t>(e)]];
      size_t block = 0;
      while (block < block_action.size() && block_action[block] != a) ++block;
      if (block == block_action.size()) {
        block_action.push_back(a);
        block_edges.emplace_back();
      }
      block_edges[block].push_back(e);
    }
    for (const auto& edges : block_edges) {
      double cost_sum = 0.0;
      for (int64_t e : edges) cost_sum += b.cost ? b.cost[g.edge_row[static_cast<size_t>(e)]] : 1.0;
      s.block_mean_cost.push_back(cost_sum / static_cast<double>(edges.size()));
      s.block_total.push_back(static_cast<double>(edges.size()));
      const size_t first_outcome = s.outcome_node.size();
      for (int64_t e : edges) {
        const int32_t t = g.edge_dst[static_cast<size_t>(e)];
        size_t o = first_outcome;
        while (o < s.outcome_node.size() && s.outcome_node[o] != t) ++o;
        if (o == s.outcome_node.size()) {
          s.outcome_node.push_back(t);
          s.outcome_count.push_back(0.0);
        }
        s.outcome_count[o] += 1.0;
      }
      s.block_outcome_offsets.push_back(static_cast<int64_t>(s.outcome_node.size()));
    }
    s.node_block_offsets[v + 1] = static_cast<int64_t>(s.block_total.size());
  }
}

void bellman(const GroupGraph& g, const BatchView& b, double far, std::vector<double>& dist,
             DistanceScratch& s) {
  build_action_model(g, b, s);
  const size_t num_nodes = static_cast<size_t>(g.num_nodes());
  for (size_t v = 1; v < num_nodes; ++v) dist[v] = far;
  dist[0] = 0.0;
  auto& next = s.next_value;
  while (true) {
    next = dist;
    double change = 0.0;
    for (size_t v = 0; v < num_nodes; ++v) {
      const int64_t first = s.node_block_offsets[v];
      const int64_t last = s.node_block_offsets[v + 1];
      if (first == last) continue;  // no action observed here: keeps its value
      double best = far;
      for (int64_t blk = first; blk < last; ++blk) {
        const size_t k = static_cast<size_t>(blk);
        double expected = 0.0;
        for (int64_t o = s.block_outcome_offsets[k]; o < s.block_outcome_offsets[k + 1]; ++o)
          expected += s.outcome_count[static_cast<size_t>(o)] * dist[static_cast<size_t>(s.outcome_node[static_cast<size_t>(o)])];
        const double q = s.block_mean_cost[k] + expected / s.block_total[k];
        best = std::min(best, q);
      }
      next[v] = best;
      change = std::max(change, std::fabs(best - dist[v]));
    }
    dist.swap(next);
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
