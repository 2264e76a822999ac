// Distances to SUCCESS on the device (pipeline.cuh, graphgpo): shortest distances by in-place
// Bellman-Ford, and the expected-distance model with the CPU engine's Jacobi iteration.
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
// engine's Jacobi Bellman backups, iterate for iterate, into dist.node.
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
    W.model.mean_cost[r] = cost_sum / static_cast<double>(count);
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
  // Jacobi Bellman backups, one block per group (the CPU's loop, iterate for iterate).
  const double tolerance = kBellmanTolerance;
  be.per_group(G, [=] GG_HD(const Blk& b, uint32_t g) {
    if (!W.groups.has_success[g]) return;
    const uint32_t first = g + W.groups.states_before[g];
    const uint32_t last = g + 1 + W.groups.states_before[g + 1];
    const double far = W.groups.far[g];
    for (uint32_t v = first + b.tid(); v < last; v += b.size()) W.dist.node[v] = v == first ? 0.0 : far;
    b.sync();
    double* cur = W.dist.node;
    double* next = W.dist.next;
    while (true) {
      double change = 0.0;
      for (uint32_t v = first + b.tid(); v < last; v += b.size()) {
        const uint32_t r0 = W.model.block_rank[W.graph.out_begin[v]];
        const uint32_t r1 = W.model.block_rank[W.graph.out_end[v]];
        if (r0 == r1) {
          next[v] = cur[v];
          continue;
        }
        double best = far;
        for (uint32_t r = r0; r < r1; ++r) {
          double expected = 0.0;
          for (uint32_t q = W.model.outcome_begin[r]; q < W.model.outcome_end[r]; ++q) {
            const uint32_t to = W.model.outcome_node[q];
            expected += W.model.outcome_count[q] * (to < terminal_base ? cur[to] : far);
          }
          best = min_of(best, W.model.mean_cost[r] + expected / W.model.rows[r]);
        }
        next[v] = best;
        change = max_of(change, abs_value(best - cur[v]));
      }
      change = b.max(change);  // a barrier: every next[v] is written before anyone reads it
      double* swap = cur;
      cur = next;
      next = swap;
      if (change < tolerance) break;
    }
    if (cur != W.dist.node)
      for (uint32_t v = first + b.tid(); v < last; v += b.size()) W.dist.node[v] = cur[v];
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
