// Stage 4 of the device pipeline (pipeline.cuh): each group's state graph. Nodes are the distinct
// (group, fingerprint) pairs of all endpoints, numbered by a stable radix sort on (group, hi, lo); the
// out-edges of every node in row order are the CPU engine's step groups.
#pragma once

#include <cstddef>
#include <cstdint>

#include "graphgpo/cuda.hpp"
#include "hd.cuh"
#include "workspace.cuh"

namespace graphgpo {
namespace cuda_impl {

using cuda::DeviceBatch;

enum DstKind : uint8_t { kDstState = 0, kDstSuccess = 1, kDstTerminal = 2 };

// Stage 4: graph.src (and, with distances, graph.dst and dst_kind) of every edge, the node numbering
// (groups.states_before, graph.node_group, counters[kCountNodes]) and the out-edge order (graph.out_edge,
// out_src, out_begin, out_end). Returns the node bound G + items.
template <class B>
uint32_t build_state_graph(B& be, const DeviceBatch& batch, const Shape& shape, const Work& w, uint32_t G) {
  const uint32_t n = static_cast<uint32_t>(batch.n);
  const uint64_t* state = reinterpret_cast<const uint64_t*>(batch.state);
  const uint64_t* nstate = reinterpret_cast<const uint64_t*>(batch.next_state);
  const uint8_t* success = batch.success;
  const Work W = w;  // captured by value in the kernels
  const bool need_dst = shape.distances;
  const uint32_t items = static_cast<uint32_t>(shape.items);
  const uint32_t node_bound = G + items;
  be.for_each(n, [=] GG_HD(uint32_t i) {
    const uint32_t e = W.rows.edge[i];
    const uint32_t t = W.rows.traj[i];
    const uint32_t g = W.traj.group[t];
    W.endpoints.lo[e] = state[2 * static_cast<size_t>(i)];
    W.endpoints.hi[e] = state[2 * static_cast<size_t>(i) + 1];
    W.endpoints.group[e] = g;
    if (need_dst) {
      const uint32_t hi = W.traj.end[t];
      const uint64_t* f = nullptr;
      uint8_t kind = kDstState;
      // A next_state of {0, 0} ("no state") is absent for that row, as on the CPU (graph.cpp).
      const uint64_t* given = nstate ? nstate + 2 * static_cast<size_t>(i) : nullptr;
      if (given && given[0] == 0 && given[1] == 0) given = nullptr;
      if (i + 1 < hi) {
        f = given ? given : state + 2 * (static_cast<size_t>(i) + 1);
      } else if (success[i]) {
        kind = kDstSuccess;
      } else if (given) {
        f = given;
      } else {
        kind = kDstTerminal;
      }
      W.graph.dst_kind[e] = kind;
      W.endpoints.lo[n + e] = f ? f[0] : 0;
      W.endpoints.hi[n + e] = f ? f[1] : 0;
      W.endpoints.group[n + e] = f ? g : G;  // G: not a state, sorts after every real key
    }
  });
  be.for_each(items, [=] GG_HD(uint32_t k) {
    W.sort.values_in[k] = k;
    W.sort.keys_in[k] = W.endpoints.lo[k];
  });
  be.sort_pairs(W.sort.keys_in, W.sort.keys_out, W.sort.values_in, W.sort.values_out, items, 64);
  be.for_each(items, [=] GG_HD(uint32_t j) { W.sort.keys_in[j] = W.endpoints.hi[W.sort.values_out[j]]; });
  be.sort_pairs(W.sort.keys_in, W.sort.keys_out, W.sort.values_out, W.sort.values_in, items, 64);
  be.for_each(items, [=] GG_HD(uint32_t j) { W.sort.keys_in[j] = W.endpoints.group[W.sort.values_in[j]]; });
  be.sort_pairs(W.sort.keys_in, W.sort.keys_out, W.sort.values_in, W.sort.values_out, items, bits_for(G));
  be.for_each(items, [=] GG_HD(uint32_t p) {
    const uint32_t it = W.sort.values_out[p];
    const uint64_t g = W.sort.keys_out[p];
    bool fresh = false;
    if (g < G) {
      if (p == 0) {
        fresh = true;
      } else {
        const uint32_t prev = W.sort.values_out[p - 1];
        fresh = W.sort.keys_out[p - 1] != g || W.endpoints.lo[prev] != W.endpoints.lo[it] || W.endpoints.hi[prev] != W.endpoints.hi[it];
      }
    }
    W.scan.in[p] = fresh ? 1u : 0u;
    if (p == 0) W.scan.in[items] = 0;
  });
  be.exclusive_sum(W.scan.in, W.scan.out, items + 1);
  be.for_each(items, [=] GG_HD(uint32_t p) {
    if (p == 0) {
      W.groups.states_before[G] = W.scan.out[items];
      W.counters[kCountNodes] = G + W.scan.out[items];
    }
    const uint32_t g = static_cast<uint32_t>(W.sort.keys_out[p]);
    if (g >= G) return;
    const uint32_t node = g + 1 + (W.scan.out[p + 1] - 1);  // SUCCESS of g is g + rg[g]; its states follow
    const uint32_t it = W.sort.values_out[p];
    if (it < n) {
      W.graph.src[it] = node;
    } else {
      W.graph.dst[it - n] = static_cast<int32_t>(node);
    }
    if (W.scan.in[p]) W.graph.node_group[node] = g;
    if (p == 0 || W.sort.keys_out[p - 1] != g) W.groups.states_before[g] = W.scan.out[p];
  });
  be.for_each(G, [=] GG_HD(uint32_t g) { W.graph.node_group[g + W.groups.states_before[g]] = g; });
  if (need_dst) {
    be.for_each(n, [=] GG_HD(uint32_t e) {
      const uint8_t kind = W.graph.dst_kind[e];
      if (kind == kDstState) return;
      const uint32_t t = W.rows.traj[W.edges.row[e]];
      if (kind == kDstSuccess) {
        const uint32_t g = W.traj.group[t];
        W.graph.dst[e] = static_cast<int32_t>(g + W.groups.states_before[g]);
      } else {
        W.graph.dst[e] = -static_cast<int32_t>(t) - 1;
      }
    });
  }
  // Out-edges of every node, in row order: the step groups.
  be.for_each(n, [=] GG_HD(uint32_t e) {
    W.sort.keys_in[e] = W.graph.src[e];
    W.sort.values_in[e] = e;
  });
  be.sort_pairs(W.sort.keys_in, W.sort.keys_out, W.sort.values_in, W.graph.out_edge, n, bits_for(node_bound));
  be.fill(W.graph.out_begin, 0, (static_cast<size_t>(node_bound) + 1) * sizeof(uint32_t));
  be.fill(W.graph.out_end, 0, (static_cast<size_t>(node_bound) + 1) * sizeof(uint32_t));
  be.for_each(n, [=] GG_HD(uint32_t k) {
    const uint32_t v = static_cast<uint32_t>(W.sort.keys_out[k]);
    W.graph.out_src[k] = v;
    if (k == 0 || W.sort.keys_out[k - 1] != v) W.graph.out_begin[v] = k;
    if (k + 1 == n || W.sort.keys_out[k + 1] != v) W.graph.out_end[v] = k + 1;
  });
  return node_bound;
}

}  // namespace cuda_impl
}  // namespace graphgpo
