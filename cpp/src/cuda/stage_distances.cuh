// Distances to SUCCESS on the device (pipeline.cuh, graphgpo): shortest distances by in-place
// Bellman-Ford, and the expected-distance model with the CPU engine's Gauss-Seidel sweeps.
#pragma once

#include <cstdint>

#include "graphgpo/cuda.hpp"
#include "graphgpo/distances.hpp"
#include "graphgpo/options.hpp"
#include "hd.cuh"
#include "workspace.cuh"

namespace graphgpo {
namespace cuda_impl {

using cuda::DeviceBatch;

// Outcome identity of out-edge position k: its target node, or terminal_base + t for the terminal node of
// failed trajectory t.
GG_HD GG_INLINE uint64_t outcome_key(const int32_t* dst, const uint32_t* csr, uint32_t k, uint64_t terminal_base) {
  const int32_t to = dst[csr[k]];
  return to >= 0 ? static_cast<uint64_t>(to) : terminal_base + static_cast<uint64_t>(-(static_cast<int64_t>(to) + 1));
}

// Expected distances: the sweep order of the CPU's bellman(): shortest distance, then the first row that
// leaves the node (unique, so any correct sort gives the same order).
struct SweepOrder {
  const double* dist;
  const uint32_t* out_begin;
  const uint32_t* out_edge;
  const uint32_t* edge_row;
  GG_HD bool operator()(uint32_t x, uint32_t y) const {
    const double dx = dist[x], dy = dist[y];
    return dx < dy || (dx == dy && edge_row[out_edge[out_begin[x]]] < edge_row[out_edge[out_begin[y]]]);
  }
};

// In-place heap sort of a[0 .. count) by `less` (one thread; O(count log count), no scratch).
template <class Less>
GG_HD void heap_sort(uint32_t* a, uint32_t count, const Less& less) {
  const auto sift_down = [&](uint32_t root, uint32_t end) {
    while (2 * root + 1 < end) {
      uint32_t child = 2 * root + 1;
      if (child + 1 < end && less(a[child], a[child + 1])) ++child;
      if (!less(a[root], a[child])) return;
      const uint32_t t = a[root];
      a[root] = a[child];
      a[child] = t;
      root = child;
    }
  };
  for (uint32_t i = count / 2; i-- > 0;) sift_down(i, count);
  for (uint32_t end = count; end > 1; --end) {
    const uint32_t t = a[0];
    a[0] = a[end - 1];
    a[end - 1] = t;
    sift_down(0, end - 1);
  }
}

// Q-value of block r at node v: the CPU's block_value (cpp/src/distances.cpp), operation for operation:
// mean cost plus the expected distance of the outcomes, the self-loop solved in closed form.
GG_HD GG_INLINE double block_value(const Work& W, uint32_t v, uint32_t r, double far, uint64_t terminal_base) {
  double stay = W.model.rows[r];
  double weighted = 0.0;
  for (uint32_t q = W.model.outcome_begin[r]; q < W.model.outcome_end[r]; ++q) {
    const uint32_t to = W.model.outcome_node[q];
    if (to == v) {
      stay -= W.model.outcome_count[q];
    } else {
      weighted += W.model.outcome_count[q] * (to < terminal_base ? W.dist.node[to] : far);
    }
  }
  if (stay == 0.0) return infinity();
  double expected = weighted / stay;
  if (!is_finite(expected)) {  // counts times distances near 1e308 overflowed; their mean did not
    expected = 0.0;
    for (uint32_t q = W.model.outcome_begin[r]; q < W.model.outcome_end[r]; ++q) {
      const uint32_t to = W.model.outcome_node[q];
      if (to != v) expected += W.model.outcome_count[q] / stay * (to < terminal_base ? W.dist.node[to] : far);
    }
  }
  return W.model.mean_cost[r] * (W.model.rows[r] / stay) + expected;
}

// Shortest distances of every node: dist.node per node, groups.far (D) per group.
template <class B>
void shortest_distances(B& be, const DeviceBatch& batch, const Work& W, uint32_t T, uint32_t G, uint32_t node_bound) {
  using Blk = typename B::Block;
  const uint8_t* success = batch.success;
  const double* cost = batch.cost;
  const double inf = infinity();

  be.fill(W.groups.has_success, 0, G);
  be.for_each(T, [=] GG_HD(uint32_t t) {
    if (success[W.traj.begin[t]]) W.groups.has_success[W.traj.group[t]] = 1;
  });
  be.for_each_counted(W.counters + kCountNodes, node_bound, [=] GG_HD(uint32_t v) {
    const uint32_t g = W.graph.node_group[v];
    W.dist.node[v] = !W.groups.has_success[g] ? 1.0 : (v == g + W.groups.states_before[g] ? 0.0 : inf);
  });
  // Shortest distances: in-place Bellman-Ford over each group's out-edges, one block per group.
  be.per_group(G, [=] GG_HD(const Blk& b, uint32_t g) {
    if (!W.groups.has_success[g]) {
      if (b.tid() == 0) W.groups.far[g] = 1.0;
      return;
    }
    const uint32_t first = g + W.groups.states_before[g];
    const uint32_t last = g + 1 + W.groups.states_before[g + 1];
    volatile double* d = W.dist.node;  // other threads of the block update it while we read
    while (true) {
      bool changed = false;
      for (uint32_t v = first + 1 + b.tid(); v < last; v += b.size()) {
        double best = d[v];
        for (uint32_t k = W.graph.out_begin[v]; k < W.graph.out_end[v]; ++k) {
          const uint32_t e = W.graph.out_edge[k];
          const int32_t to = W.graph.dst[e];
          if (to < 0) continue;  // a terminal node never reaches SUCCESS
          const double candidate = d[to] + (cost ? cost[W.edges.row[e]] : 1.0);
          if (candidate < best) best = candidate;
        }
        if (best < d[v]) {
          d[v] = best;
          changed = true;
        }
      }
      if (!b.any(changed)) break;
    }
    double largest = 0.0;
    for (uint32_t v = first + b.tid(); v < last; v += b.size()) {
      const double x = d[v];
      if (x != inf) largest = max_of(largest, x);
    }
    const double far = b.max(largest) + 1.0;
    for (uint32_t v = first + b.tid(); v < last; v += b.size())
      if (d[v] == inf) d[v] = far;
    if (b.tid() == 0) W.groups.far[g] = far;
    b.sync();
  });
}

// Expected distances (distance="expected"), from the shortest ones: the model of model.*, then the CPU
// engine's Gauss-Seidel sweeps, sweep for sweep, into dist.node.
template <class B>
void expected_distances(B& be, const DeviceBatch& batch, const Work& W, uint32_t T, uint32_t G, uint32_t node_bound) {
  using Blk = typename B::Block;
  const uint32_t n = static_cast<uint32_t>(batch.n);
  const double* cost = batch.cost;
  const int64_t* action = batch.action;
  // Expected distances. Model: positions k of the out-edge order; a block is one (node, action), its
  // members in row order; blocks of a node in order of first appearance; outcomes of a block in order of
  // first appearance, with their counts.
  const uint64_t terminal_base = node_bound;
  be.for_each(n, [=] GG_HD(uint32_t k) {
    W.sort.keys_in[k] = static_cast<uint64_t>(action[W.edges.row[W.graph.out_edge[k]]]) ^ kSignBit;
    W.sort.values_in[k] = k;
  });
  be.sort_pairs(W.sort.keys_in, W.sort.keys_out, W.sort.values_in, W.sort.values_out, n, 64);
  be.for_each(n, [=] GG_HD(uint32_t j) { W.sort.keys_in[j] = W.graph.out_src[W.sort.values_out[j]]; });
  be.sort_pairs(W.sort.keys_in, W.sort.keys_out, W.sort.values_out, W.model.by_block, n, bits_for(node_bound));
  be.for_each(n, [=] GG_HD(uint32_t j) {
    const uint32_t k = W.model.by_block[j];
    bool first = true;
    if (j > 0) {
      const uint32_t prev = W.model.by_block[j - 1];
      first = W.graph.out_src[prev] != W.graph.out_src[k] || action[W.edges.row[W.graph.out_edge[prev]]] != action[W.edges.row[W.graph.out_edge[k]]];
    }
    W.scan.in[k] = first ? 1u : 0u;
    if (j == 0) W.scan.in[n] = 0;
  });
  be.exclusive_sum(W.scan.in, W.model.block_rank, n + 1);  // kblk[k]: rank of the block that starts at position k
  be.for_each(n, [=] GG_HD(uint32_t j) {
    const uint32_t k = W.model.by_block[j];
    if (!W.scan.in[k]) return;
    const uint32_t r = W.model.block_rank[k];
    uint32_t m = j;
    double cost_sum = 0.0;
    do {
      const uint32_t km = W.model.by_block[m];
      W.model.block_of[km] = r;
      cost_sum += cost ? cost[W.edges.row[W.graph.out_edge[km]]] : 1.0;
      ++m;
    } while (m < n && !W.scan.in[W.model.by_block[m]]);
    const uint32_t count = m - j;
    W.model.block_start[r] = j;
    W.model.block_size[r] = count;
    double mean_cost = cost_sum / static_cast<double>(count);
    if (!is_finite(mean_cost)) {  // the sum overflowed; the mean of finite costs is finite (as the CPU)
      mean_cost = 0.0;
      for (uint32_t q = j; q < m; ++q)
        mean_cost += (cost ? cost[W.edges.row[W.graph.out_edge[W.model.by_block[q]]]] : 1.0) / static_cast<double>(count);
    }
    W.model.mean_cost[r] = mean_cost;
    W.model.rows[r] = static_cast<double>(count);
  });
  // Outcomes: positions sorted by (block, outcome node), stable.
  be.for_each(n, [=] GG_HD(uint32_t k) {
    W.sort.keys_in[k] = outcome_key(W.graph.dst, W.graph.out_edge, k, terminal_base);
    W.sort.values_in[k] = k;
  });
  be.sort_pairs(W.sort.keys_in, W.sort.keys_out, W.sort.values_in, W.sort.values_out, n, bits_for(terminal_base + T));
  be.for_each(n, [=] GG_HD(uint32_t j) { W.sort.keys_in[j] = W.model.block_of[W.sort.values_out[j]]; });
  be.sort_pairs(W.sort.keys_in, W.sort.keys_out, W.sort.values_out, W.sort.values_in, n, bits_for(n));
  // W.sort.values_in: positions by (block, outcome, position). The first of each (block, outcome) run carries the count.
  be.for_each(n, [=] GG_HD(uint32_t j) {
    const uint32_t k = W.sort.values_in[j];
    const uint64_t mine = outcome_key(W.graph.dst, W.graph.out_edge, k, terminal_base);
    const uint32_t block = W.model.block_of[k];
    const bool first = j == 0 || W.model.block_of[W.sort.values_in[j - 1]] != block ||
                       outcome_key(W.graph.dst, W.graph.out_edge, W.sort.values_in[j - 1], terminal_base) != mine;
    W.model.outcome_first[k] = first ? 1u : 0u;
    if (first) {
      uint32_t m = j + 1;
      while (m < n && W.model.block_of[W.sort.values_in[m]] == block && outcome_key(W.graph.dst, W.graph.out_edge, W.sort.values_in[m], terminal_base) == mine) ++m;
      W.model.run_length[k] = m - j;
    }
  });
  be.fill(W.scan.in, 0, (static_cast<size_t>(n) + 1) * sizeof(uint32_t));
  be.for_each(n, [=] GG_HD(uint32_t r) {
    if (r >= W.model.block_rank[n]) return;
    const uint32_t j = W.model.block_start[r];
    uint32_t count = 0;
    for (uint32_t m = j; m < j + W.model.block_size[r]; ++m) count += W.model.outcome_first[W.model.by_block[m]];
    W.scan.in[r] = count;
  });
  be.exclusive_sum(W.scan.in, W.scan.out, n + 1);
  be.for_each(n, [=] GG_HD(uint32_t r) {
    if (r >= W.model.block_rank[n]) return;
    const uint32_t j = W.model.block_start[r];
    uint32_t slot = W.scan.out[r];
    W.model.outcome_begin[r] = slot;
    for (uint32_t m = j; m < j + W.model.block_size[r]; ++m) {
      const uint32_t k = W.model.by_block[m];
      if (!W.model.outcome_first[k]) continue;
      W.model.outcome_node[slot] = static_cast<uint32_t>(outcome_key(W.graph.dst, W.graph.out_edge, k, terminal_base));
      W.model.outcome_count[slot] = static_cast<double>(W.model.run_length[k]);
      ++slot;
    }
    W.model.outcome_end[r] = slot;
  });
  // Gauss-Seidel sweeps, one thread per group (the CPU's bellman(), sweep for sweep).
  const double tolerance = kBellmanTolerance;
  be.per_group(G, [=] GG_HD(const Blk& b, uint32_t g) {
    if (b.tid() == 0 && W.groups.has_success[g]) {
      const uint32_t first = g + W.groups.states_before[g];
      const uint32_t last = g + 1 + W.groups.states_before[g + 1];
      const double far = W.groups.far[g];
      uint32_t* order = W.dist.order + first;
      uint32_t count = 0;
      for (uint32_t v = first + 1; v < last; ++v)
        if (W.dist.node[v] < far) order[count++] = v;
      heap_sort(order, count, SweepOrder{W.dist.node, W.graph.out_begin, W.graph.out_edge, W.edges.row});
      for (uint32_t v = first + 1; v < last; ++v) W.dist.node[v] = far;
      while (true) {
        double change = 0.0;
        for (uint32_t i = 0; i < count; ++i) {
          const uint32_t v = order[i];
          double best = far;
          for (uint32_t r = W.model.block_rank[W.graph.out_begin[v]]; r < W.model.block_rank[W.graph.out_end[v]]; ++r)
            best = min_of(best, block_value(W, v, r, far, terminal_base));
          change = max_of(change, abs_value(best - W.dist.node[v]));
          W.dist.node[v] = best;
        }
        if (change < tolerance) break;
      }
    }
    b.sync();
  });
}

// Distances of every node (graphgpo): dist.node per node, groups.far per group.
template <class B>
void run_distances(B& be, const DeviceBatch& batch, const Options& o, const Work& W, uint32_t T, uint32_t G,
                   uint32_t node_bound) {
  shortest_distances(be, batch, W, T, G, node_bound);
  if (o.distance == DistanceKind::Expected) expected_distances(be, batch, W, T, G, node_bound);
}

}  // namespace cuda_impl
}  // namespace graphgpo
