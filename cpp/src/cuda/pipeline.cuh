// The device algorithm for the three estimators, written once against a small "backend" interface so that
// the same code runs as CUDA kernels (advantages.cu, CudaBackend) and, for testing on machines without a
// GPU, as plain loops on the host (emulate_main.cpp, HostBackend).
//
// Backend interface (B):
//   using Block = ...;  // a thread block working on one group: tid(), size(), sync(), any(bool), max(double)
//   for_each(n, f)                  f(uint32_t i) for every i < n, in parallel
//   for_each_counted(count, bound, f)  the same for i < *count (a device counter), with *count <= bound
//   per_group(G, f)                 f(const Block&, uint32_t g) for every group, one block per group
//   sort_pairs(kin, kout, vin, vout, n, bits)  stable radix sort of n (uint64 key, uint32 value) pairs by
//                                   the low `bits` key bits (keys must be < 2^bits)
//   exclusive_sum(in, out, n)       uint32 exclusive prefix sum
//   fill(p, byte, bytes), to_host_async(dst, src, bytes), synchronize(), to_device(dst, src, bytes)
//
// The numbers (SPEC.md, docs/cuda.md)
// - Rows are validated on the device; the first offending row and the CPU engine's message are reported.
// - Trajectories are sorted by group id (stable), so each group's rows ("edges") are contiguous and in batch
//   order, which is the CPU engine's group row order.
// - Nodes: the distinct (group, fingerprint) pairs, found by a stable radix sort of all endpoints by
//   (group, hi, lo). Group g's nodes are contiguous: its SUCCESS node, then its states. A failed
//   trajectory's own terminal node is encoded in the edge's target as -(t + 1) and has distance D.
//   The numbering differs from the CPU's (first appearance) but no result depends on node numbers.
// - Out-edges of each node in row order (stable sort by source node) = the CPU's step groups.
// - Shortest distances: Bellman-Ford relaxation d(u) = min(d(u), fl(d(v) + c)) in place, one thread block
//   per group, until nothing changes. Its fixed point is the minimum over paths of the floating-point path
//   sums, which is exactly what the CPU's BFS (unit costs) and Dijkstra compute: x -> fl(x + c) is monotone
//   and never decreases for c > 0, so Dijkstra's label-setting argument holds for it and both return the
//   same minimum, bit for bit.
// - Expected distances: the CPU's Jacobi iteration with the same per-(state, action) model (actions and
//   outcomes in order of first appearance, mean cost summed in row order), the same sums in the same order
//   and the same stopping rule, so every iterate is bit-identical.
// - omega ** exponent: the distinct exponents are copied to the host, raised with std::pow exactly like the
//   CPU engine (whose memo table holds std::pow results too), and copied back.
// - Normalizations run sequentially per segment, in row order, with the CPU's operations.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "graphgpo/cuda.hpp"
#include "graphgpo/distances.hpp"
#include "graphgpo/error.hpp"
#include "graphgpo/options.hpp"
#include "hd.cuh"

namespace graphgpo {
namespace cuda_impl {

using cuda::DeviceBatch;

// Validation verdicts, in the order the CPU engine checks them within one row.
enum RowError : uint8_t {
  kRowOk = 0,
  kErrReward = 1,        // reward is not finite
  kErrCostFinite = 2,    // cost is not finite
  kErrCostPositive = 3,  // cost <= 0
  kErrSplit = 4,         // trajectory split in two runs
  kErrGroupSpread = 5,   // trajectory spread over two groups
  kErrSuccess = 6,       // success not constant within a trajectory
};

enum DstKind : uint8_t { kDstState = 0, kDstSuccess = 1, kDstTerminal = 2 };

enum Counter : int { kCountGroups = 0, kCountNodes = 1, kNumCounters = 4 };

GG_HD GG_INLINE void atomic_min_u64(uint64_t* p, uint64_t v) {
#if defined(__CUDA_ARCH__)
  atomicMin(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
#else
  if (v < *p) *p = v;
#endif
}

// Device scratch, carved from one allocation. Sizes are bounds in n (the row count): T, G <= n.
struct Work {
  // rows
  uint8_t* code = nullptr;
  uint32_t* sa = nullptr;  // scan input  (max(n, items) + 1)
  uint32_t* sb = nullptr;  // scan output (max(n, items) + 1)
  uint32_t* rid = nullptr;   // row -> trajectory
  uint32_t* pos = nullptr;   // row -> edge (position in group row order)
  uint32_t* erow = nullptr;  // edge -> row
  // trajectories
  uint32_t* tbeg = nullptr;
  uint32_t* tend = nullptr;
  uint64_t* tkey = nullptr;
  uint64_t* tgkey = nullptr;
  uint32_t* tgroup = nullptr;
  uint32_t* tpos = nullptr;     // trajectory -> position in the group-sorted order
  uint32_t* gtraj = nullptr;    // group-sorted position -> trajectory
  uint32_t* tposoff = nullptr;  // trajectory -> its first edge
  double* ep = nullptr;
  // groups (n + 1)
  uint32_t* g_tbeg = nullptr;
  uint32_t* g_ebeg = nullptr;
  uint32_t* rg = nullptr;  // distinct states of the groups before g
  uint8_t* g_succ = nullptr;
  double* far = nullptr;
  uint32_t* counts = nullptr;
  uint64_t* err = nullptr;
  // edges
  double* ae = nullptr;
  double* tmpd = nullptr;
  double* sret = nullptr;
  // graph (gigpo, graphgpo)
  uint32_t* src = nullptr;
  int32_t* dst = nullptr;
  uint8_t* dkind = nullptr;
  uint32_t* csr = nullptr;   // out-edge order: position -> edge
  uint32_t* ksrc = nullptr;  // position -> source node
  uint64_t* ka = nullptr;
  uint64_t* kb = nullptr;
  uint32_t* va = nullptr;
  uint32_t* vb = nullptr;
  uint64_t* ilo = nullptr;
  uint64_t* ihi = nullptr;
  uint32_t* ig = nullptr;
  uint32_t* ngroup = nullptr;  // node -> group
  uint32_t* obeg = nullptr;
  uint32_t* oend = nullptr;
  // distances (graphgpo)
  double* dist = nullptr;
  double* dnext = nullptr;
  uint32_t* uidx = nullptr;
  double* powtab = nullptr;
  // expected-distance model
  uint32_t* bk = nullptr;
  uint32_t* kblk = nullptr;
  uint32_t* blk_of_k = nullptr;
  uint32_t* bstart = nullptr;
  uint32_t* blen = nullptr;
  uint32_t* bob = nullptr;
  uint32_t* boe = nullptr;
  uint32_t* ofirst = nullptr;
  uint32_t* ocnt = nullptr;
  uint32_t* onode = nullptr;
  double* bmean = nullptr;
  double* btotal = nullptr;
  double* ocount = nullptr;
  // the backend's sort/scan scratch
  void* temp = nullptr;
  size_t temp_bytes = 0;
};

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
  Shape s;
  s.n = n;
  s.graph = method != Method::Grpo;
  s.distances = method == Method::GraphGpo;
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
  take(w.code, n);
  take(w.sa, scan);
  take(w.sb, scan);
  take(w.rid, n);
  take(w.pos, n);
  take(w.erow, n);
  take(w.tbeg, n);
  take(w.tend, n);
  take(w.tkey, n);
  take(w.tgkey, n);
  take(w.tgroup, n);
  take(w.tpos, n);
  take(w.gtraj, n);
  take(w.tposoff, n);
  take(w.ep, n);
  take(w.g_tbeg, n + 1);
  take(w.g_ebeg, n + 1);
  take(w.rg, n + 1);
  take(w.g_succ, n);
  take(w.far, n);
  take(w.counts, kNumCounters);
  take(w.err, 1);
  take(w.ae, n);
  take(w.tmpd, n);
  take(w.sret, n);
  take(w.ka, s.sort_items());
  take(w.kb, s.sort_items());
  take(w.va, s.sort_items());
  take(w.vb, s.sort_items());
  if (s.graph) {
    const size_t nodes = s.node_bound() + 1;
    take(w.src, n);
    take(w.dst, n);
    take(w.dkind, n);
    take(w.csr, n);
    take(w.ksrc, n);
    take(w.ilo, s.items);
    take(w.ihi, s.items);
    take(w.ig, s.items);
    take(w.ngroup, nodes);
    take(w.obeg, nodes);
    take(w.oend, nodes);
    if (s.distances) {
      take(w.dist, nodes);
      take(w.uidx, n);
      take(w.powtab, n);
    }
    if (s.expected) {
      take(w.dnext, nodes);
      take(w.bk, n);
      take(w.kblk, n + 1);
      take(w.blk_of_k, n);
      take(w.bstart, n);
      take(w.blen, n);
      take(w.bob, n);
      take(w.boe, n);
      take(w.ofirst, n);
      take(w.ocnt, n);
      take(w.onode, n);
      take(w.bmean, n);
      take(w.btotal, n);
      take(w.ocount, n);
    }
  }
  offset = (offset + 255) & ~size_t(255);
  w.temp = base ? base + offset : nullptr;
  w.temp_bytes = temp_bytes;
  offset += temp_bytes;
  return offset;
}

// Host-side checks made before anything runs, in the CPU engine's order and with its messages.
inline void check_batch(Method method, const DeviceBatch& b, const Options& o) {
  validate_options(o);
  if (method == Method::ProGpo) fail("progpo is not implemented on the CUDA path; use graphgpo.advantages (CPU)");
  if (o.merge == Merge::Similar && method != Method::Grpo)
    fail("merge='similar' compares texts and runs on the CPU engine only (graphgpo.advantages)");
  if (b.n == 0) return;
  if (b.n > cuda::kMaxDeviceRows)
    fail("the CUDA path takes at most " + std::to_string(cuda::kMaxDeviceRows) + " rows, got " + std::to_string(b.n));
  if (!b.group || !b.trajectory || !b.state || !b.success) fail("group, trajectory, state and success are required");
  if (method == Method::GraphGpo && o.distance == DistanceKind::Expected && !b.action)
    fail("distance='expected' needs the action of every row");
}

// ---------------------------------------------------------------------------------------------------
// Segment accessors for normalize_sequential (plain structs: usable in device code on both sides).

struct Contiguous {
  const double* v;
  GG_HD double operator()(uint32_t k) const { return v[k]; }
};
struct WriteContiguous {
  double* v;
  GG_HD void operator()(uint32_t k, double x) const { v[k] = x; }
};
struct Gathered {
  const double* v;
  const uint32_t* index;
  GG_HD double operator()(uint32_t k) const { return v[index[k]]; }
};
// Step groups: out[row(e)] = episode_weight * A_E[e] + step_weight * normalized step value.
struct WriteAdvantage {
  double* out;
  const uint32_t* index;  // position -> edge
  const uint32_t* erow;
  const double* ae;
  double episode_weight;
  double step_weight;
  GG_HD void operator()(uint32_t k, double x) const {
    const uint32_t e = index[k];
    out[erow[e]] = episode_weight * ae[e] + step_weight * x;
  }
};

// Outcome identity of out-edge position k: its target node, or terminal_base + t for the terminal node of
// failed trajectory t.
GG_HD GG_INLINE uint64_t outcome_key(const int32_t* dst, const uint32_t* csr, uint32_t k, uint64_t terminal_base) {
  const int32_t to = dst[csr[k]];
  return to >= 0 ? static_cast<uint64_t>(to) : terminal_base + static_cast<uint64_t>(-(static_cast<int64_t>(to) + 1));
}

// The CPU engine's messages (cpp/src/batch.cpp), for the first offending row.
template <class B>
[[noreturn]] void report_row_error(B& be, const DeviceBatch& batch, uint64_t verdict) {
  const uint64_t row = verdict >> 3;
  const int code = static_cast<int>(verdict & 7);
  int64_t traj = 0;
  be.to_host_async(&traj, batch.trajectory + row, sizeof traj);
  be.synchronize();
  std::string what;
  switch (code) {
    case kErrReward: what = "reward is not finite"; break;
    case kErrCostFinite: what = "cost is not finite"; break;
    case kErrCostPositive: {
      double c = 0;
      be.to_host_async(&c, batch.cost + row, sizeof c);
      be.synchronize();
      what = "cost must be > 0, got " + std::to_string(c);
      break;
    }
    case kErrSplit:
      what = "trajectory " + std::to_string(traj) +
             " is split in two runs (its rows must be contiguous and in step order)";
      break;
    case kErrGroupSpread: {
      int64_t groups[2] = {0, 0};
      be.to_host_async(groups, batch.group + row - 1, sizeof groups);
      be.synchronize();
      what = "trajectory " + std::to_string(traj) + " is spread over groups " + std::to_string(groups[0]) +
             " and " + std::to_string(groups[1]);
      break;
    }
    default: what = "success is not constant within trajectory " + std::to_string(traj); break;
  }
  fail("row " + std::to_string(row) + ": " + what);
}

// Distances of every node (graphgpo): W.dist per node, W.far per group.
template <class B>
void run_distances(B& be, const DeviceBatch& batch, const Options& o, const Work& W, uint32_t T, uint32_t G,
                   uint32_t node_bound) {
  using Blk = typename B::Block;
  const uint32_t n = static_cast<uint32_t>(batch.n);
  const uint8_t* success = batch.success;
  const double* cost = batch.cost;
  const int64_t* action = batch.action;
  const double inf = infinity();

  be.fill(W.g_succ, 0, G);
  be.for_each(T, [=] GG_HD(uint32_t t) {
    if (success[W.tbeg[t]]) W.g_succ[W.tgroup[t]] = 1;
  });
  be.for_each_counted(W.counts + kCountNodes, node_bound, [=] GG_HD(uint32_t v) {
    const uint32_t g = W.ngroup[v];
    W.dist[v] = !W.g_succ[g] ? 1.0 : (v == g + W.rg[g] ? 0.0 : inf);
  });
  // Shortest distances: in-place Bellman-Ford over each group's out-edges, one block per group.
  be.per_group(G, [=] GG_HD(const Blk& b, uint32_t g) {
    if (!W.g_succ[g]) {
      if (b.tid() == 0) W.far[g] = 1.0;
      return;
    }
    const uint32_t first = g + W.rg[g];
    const uint32_t last = g + 1 + W.rg[g + 1];
    volatile double* d = W.dist;  // other threads of the block update it while we read
    while (true) {
      bool changed = false;
      for (uint32_t v = first + 1 + b.tid(); v < last; v += b.size()) {
        double best = d[v];
        for (uint32_t k = W.obeg[v]; k < W.oend[v]; ++k) {
          const uint32_t e = W.csr[k];
          const int32_t to = W.dst[e];
          if (to < 0) continue;  // a terminal node never reaches SUCCESS
          const double candidate = d[to] + (cost ? cost[W.erow[e]] : 1.0);
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
    if (b.tid() == 0) W.far[g] = far;
    b.sync();
  });
  if (o.distance != DistanceKind::Expected) return;

  // Expected distances. Model: positions k of the out-edge order; a block is one (node, action), its
  // members in row order; blocks of a node in order of first appearance; outcomes of a block in order of
  // first appearance, with their counts.
  const uint64_t terminal_base = node_bound;
  be.for_each(n, [=] GG_HD(uint32_t k) {
    W.ka[k] = static_cast<uint64_t>(action[W.erow[W.csr[k]]]) ^ kSignBit;
    W.va[k] = k;
  });
  be.sort_pairs(W.ka, W.kb, W.va, W.vb, n, 64);
  be.for_each(n, [=] GG_HD(uint32_t j) { W.ka[j] = W.ksrc[W.vb[j]]; });
  be.sort_pairs(W.ka, W.kb, W.vb, W.bk, n, bits_for(node_bound));
  be.for_each(n, [=] GG_HD(uint32_t j) {
    const uint32_t k = W.bk[j];
    bool first = true;
    if (j > 0) {
      const uint32_t prev = W.bk[j - 1];
      first = W.ksrc[prev] != W.ksrc[k] || action[W.erow[W.csr[prev]]] != action[W.erow[W.csr[k]]];
    }
    W.sa[k] = first ? 1u : 0u;
    if (j == 0) W.sa[n] = 0;
  });
  be.exclusive_sum(W.sa, W.kblk, n + 1);  // kblk[k]: rank of the block that starts at position k
  be.for_each(n, [=] GG_HD(uint32_t j) {
    const uint32_t k = W.bk[j];
    if (!W.sa[k]) return;
    const uint32_t r = W.kblk[k];
    uint32_t m = j;
    double cost_sum = 0.0;
    do {
      const uint32_t km = W.bk[m];
      W.blk_of_k[km] = r;
      cost_sum += cost ? cost[W.erow[W.csr[km]]] : 1.0;
      ++m;
    } while (m < n && !W.sa[W.bk[m]]);
    const uint32_t count = m - j;
    W.bstart[r] = j;
    W.blen[r] = count;
    W.bmean[r] = cost_sum / static_cast<double>(count);
    W.btotal[r] = static_cast<double>(count);
  });
  // Outcomes: positions sorted by (block, outcome node), stable.
  be.for_each(n, [=] GG_HD(uint32_t k) {
    W.ka[k] = outcome_key(W.dst, W.csr, k, terminal_base);
    W.va[k] = k;
  });
  be.sort_pairs(W.ka, W.kb, W.va, W.vb, n, bits_for(terminal_base + T));
  be.for_each(n, [=] GG_HD(uint32_t j) { W.ka[j] = W.blk_of_k[W.vb[j]]; });
  be.sort_pairs(W.ka, W.kb, W.vb, W.va, n, bits_for(n));
  // W.va: positions by (block, outcome, position). The first of each (block, outcome) run carries the count.
  be.for_each(n, [=] GG_HD(uint32_t j) {
    const uint32_t k = W.va[j];
    const uint64_t mine = outcome_key(W.dst, W.csr, k, terminal_base);
    const uint32_t block = W.blk_of_k[k];
    const bool first = j == 0 || W.blk_of_k[W.va[j - 1]] != block ||
                       outcome_key(W.dst, W.csr, W.va[j - 1], terminal_base) != mine;
    W.ofirst[k] = first ? 1u : 0u;
    if (first) {
      uint32_t m = j + 1;
      while (m < n && W.blk_of_k[W.va[m]] == block && outcome_key(W.dst, W.csr, W.va[m], terminal_base) == mine) ++m;
      W.ocnt[k] = m - j;
    }
  });
  be.fill(W.sa, 0, (static_cast<size_t>(n) + 1) * sizeof(uint32_t));
  be.for_each(n, [=] GG_HD(uint32_t r) {
    if (r >= W.kblk[n]) return;
    const uint32_t j = W.bstart[r];
    uint32_t count = 0;
    for (uint32_t m = j; m < j + W.blen[r]; ++m) count += W.ofirst[W.bk[m]];
    W.sa[r] = count;
  });
  be.exclusive_sum(W.sa, W.sb, n + 1);
  be.for_each(n, [=] GG_HD(uint32_t r) {
    if (r >= W.kblk[n]) return;
    const uint32_t j = W.bstart[r];
    uint32_t slot = W.sb[r];
    W.bob[r] = slot;
    for (uint32_t m = j; m < j + W.blen[r]; ++m) {
      const uint32_t k = W.bk[m];
      if (!W.ofirst[k]) continue;
      W.onode[slot] = static_cast<uint32_t>(outcome_key(W.dst, W.csr, k, terminal_base));
      W.ocount[slot] = static_cast<double>(W.ocnt[k]);
      ++slot;
    }
    W.boe[r] = slot;
  });
  // Jacobi Bellman backups, one block per group (the CPU's loop, iterate for iterate).
  const double tolerance = kBellmanTolerance;
  be.per_group(G, [=] GG_HD(const Blk& b, uint32_t g) {
    if (!W.g_succ[g]) return;
    const uint32_t first = g + W.rg[g];
    const uint32_t last = g + 1 + W.rg[g + 1];
    const double far = W.far[g];
    for (uint32_t v = first + b.tid(); v < last; v += b.size()) W.dist[v] = v == first ? 0.0 : far;
    b.sync();
    double* cur = W.dist;
    double* next = W.dnext;
    while (true) {
      double change = 0.0;
      for (uint32_t v = first + b.tid(); v < last; v += b.size()) {
        const uint32_t r0 = W.kblk[W.obeg[v]];
        const uint32_t r1 = W.kblk[W.oend[v]];
        if (r0 == r1) {
          next[v] = cur[v];
          continue;
        }
        double best = far;
        for (uint32_t r = r0; r < r1; ++r) {
          double expected = 0.0;
          for (uint32_t q = W.bob[r]; q < W.boe[r]; ++q) {
            const uint32_t to = W.onode[q];
            expected += W.ocount[q] * (to < terminal_base ? cur[to] : far);
          }
          best = min_of(best, W.bmean[r] + expected / W.btotal[r]);
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
    if (cur != W.dist)
      for (uint32_t v = first + b.tid(); v < last; v += b.size()) W.dist[v] = cur[v];
    b.sync();
  });
}

// ---------------------------------------------------------------------------------------------------
// The pipeline. `w` was carved for shape_of(method, batch.n, o); everything is validated by the caller
// except the row rules, which are checked here before anything is written to `out`.

// With `next_distance` (graphgpo only), also writes each row's d(next node) there; with `out` null it stops
// after that.
template <class B>
void run_pipeline(B& be, Method method, const DeviceBatch& batch, const Options& o, double* out, const Work& w,
                  double* next_distance = nullptr) {
  const Shape shape = shape_of(method, batch.n, o);
  const uint32_t n = static_cast<uint32_t>(batch.n);
  const Work W = w;
  const int64_t* group = batch.group;
  const int64_t* traj = batch.trajectory;
  const uint64_t* state = reinterpret_cast<const uint64_t*>(batch.state);
  const uint64_t* nstate = reinterpret_cast<const uint64_t*>(batch.next_state);
  const uint8_t* success = batch.success;
  const uint8_t* valid = batch.valid;
  const double* reward = batch.reward;
  const double* cost = batch.cost;

  // ---- 1. Runs of rows (trajectories) and the per-row rules.
  be.fill(W.err, 0xff, sizeof(uint64_t));
  be.for_each(n, [=] GG_HD(uint32_t i) {
    const bool start = i == 0 || traj[i] != traj[i - 1];
    W.sa[i] = start ? 1u : 0u;
    if (i == 0) W.sa[n] = 0;
    uint8_t code = kRowOk;
    if (reward && !is_finite(reward[i])) {
      code = kErrReward;
    } else if (cost && !is_finite(cost[i])) {
      code = kErrCostFinite;
    } else if (cost && !(cost[i] > 0.0)) {
      code = kErrCostPositive;
    } else if (!start) {
      if (group[i] != group[i - 1]) {
        code = kErrGroupSpread;
      } else if ((success[i] != 0) != (success[i - 1] != 0)) {
        code = kErrSuccess;
      }
    }
    W.code[i] = code;
  });
  be.exclusive_sum(W.sa, W.sb, n + 1);
  uint32_t num_traj = 0;
  be.to_host_async(&num_traj, W.sb + n, sizeof num_traj);
  be.for_each(n, [=] GG_HD(uint32_t i) {
    const uint32_t t = W.sb[i + 1] - 1;
    W.rid[i] = t;
    if (W.sa[i]) {
      W.tbeg[t] = i;
      W.tkey[t] = static_cast<uint64_t>(traj[i]) ^ kSignBit;
      W.tgkey[t] = static_cast<uint64_t>(group[i]) ^ kSignBit;
    }
    if (i + 1 == n || W.sa[i + 1]) W.tend[t] = i + 1;
  });
  be.synchronize();
  const uint32_t T = num_traj;

  // A trajectory id that starts two runs: the later run's first row is the offender.
  be.for_each(T, [=] GG_HD(uint32_t t) { W.va[t] = t; });
  be.sort_pairs(W.tkey, W.ka, W.va, W.vb, T, 64);
  be.for_each(T, [=] GG_HD(uint32_t p) {
    if (p > 0 && W.ka[p] == W.ka[p - 1]) {
      const uint32_t row = W.tbeg[W.vb[p]];
      if (W.code[row] == kRowOk) W.code[row] = kErrSplit;
    }
  });
  be.for_each(n, [=] GG_HD(uint32_t i) {
    if (W.code[i] != kRowOk) atomic_min_u64(W.err, (static_cast<uint64_t>(i) << 3) | W.code[i]);
  });

  // ---- 2. Groups: trajectories sorted by group id (stable: batch order within a group).
  be.for_each(T, [=] GG_HD(uint32_t t) { W.va[t] = t; });
  be.sort_pairs(W.tgkey, W.ka, W.va, W.gtraj, T, 64);
  be.for_each(T, [=] GG_HD(uint32_t p) {
    W.sa[p] = (p == 0 || W.ka[p] != W.ka[p - 1]) ? 1u : 0u;
    if (p == 0) W.sa[T] = 0;
  });
  be.exclusive_sum(W.sa, W.sb, T + 1);
  be.for_each(T, [=] GG_HD(uint32_t p) {
    const uint32_t t = W.gtraj[p];
    const uint32_t g = W.sb[p + 1] - 1;
    W.tgroup[t] = g;
    W.tpos[t] = p;
    if (W.sa[p]) W.g_tbeg[g] = p;
    if (p == 0) {
      const uint32_t G = W.sb[T];
      W.g_tbeg[G] = T;
      W.counts[kCountGroups] = G;
    }
  });
  // Edges: the rows of each group, trajectory after trajectory.
  be.for_each(T, [=] GG_HD(uint32_t p) {
    const uint32_t t = W.gtraj[p];
    W.sa[p] = W.tend[t] - W.tbeg[t];
    if (p == 0) W.sa[T] = 0;
  });
  be.exclusive_sum(W.sa, W.sb, T + 1);
  be.for_each(T, [=] GG_HD(uint32_t p) {
    const uint32_t t = W.gtraj[p];
    W.tposoff[t] = W.sb[p];
    const uint32_t g = W.tgroup[t];
    if (W.g_tbeg[g] == p) W.g_ebeg[g] = W.sb[p];
    if (p == 0) W.g_ebeg[W.counts[kCountGroups]] = n;
  });
  be.for_each(n, [=] GG_HD(uint32_t i) {
    const uint32_t t = W.rid[i];
    const uint32_t e = W.tposoff[t] + (i - W.tbeg[t]);
    W.pos[i] = e;
    W.erow[e] = i;
  });
  uint64_t verdict = 0;
  uint32_t num_groups = 0;
  be.to_host_async(&verdict, W.err, sizeof verdict);
  be.to_host_async(&num_groups, W.counts + kCountGroups, sizeof num_groups);
  be.synchronize();
  if (verdict != ~uint64_t(0)) report_row_error(be, batch, verdict);
  const uint32_t G = num_groups;

  // ---- 3. Episode advantage A_E, per edge.
  const double sr = o.success_reward;
  const double pen = o.invalid_penalty;
  const int norm = o.norm == Norm::Mean ? kNormMean : kNormMeanStd;
  const double eps = o.eps;
  const bool per_traj = o.episode_stats == EpisodeStats::PerTrajectory;
  be.for_each(T, [=] GG_HD(uint32_t t) {
    const uint32_t lo = W.tbeg[t];
    const uint32_t hi = W.tend[t];
    double total = 0.0;
    if (reward) {
      for (uint32_t i = lo; i < hi; ++i) total += reward[i];
    } else if (success[lo]) {
      total = sr;
    }
    if (per_traj) {
      uint64_t invalid = 0;
      if (valid)
        for (uint32_t i = lo; i < hi; ++i) invalid += valid[i] ? 0 : 1;
      total = total - pen * static_cast<double>(invalid);
    }
    W.ep[t] = total;
  });
  if (!per_traj) {
    be.for_each(n, [=] GG_HD(uint32_t i) {
      W.tmpd[W.pos[i]] = W.ep[W.rid[i]] - ((!valid || valid[i]) ? 0.0 : pen);
    });
    be.for_each(G, [=] GG_HD(uint32_t g) {
      const uint32_t b = W.g_ebeg[g];
      normalize_sequential(W.g_ebeg[g + 1] - b, norm, eps, false, Contiguous{W.tmpd + b},
                           WriteContiguous{W.ae + b});
    });
  } else {
    be.for_each(T, [=] GG_HD(uint32_t p) { W.tmpd[p] = W.ep[W.gtraj[p]]; });
    be.for_each(G, [=] GG_HD(uint32_t g) {
      const uint32_t b = W.g_tbeg[g];
      normalize_sequential(W.g_tbeg[g + 1] - b, norm, eps, false, Contiguous{W.tmpd + b},
                           WriteContiguous{W.tmpd + b});
    });
    be.for_each(n, [=] GG_HD(uint32_t i) { W.ae[W.pos[i]] = W.tmpd[W.tpos[W.rid[i]]]; });
  }
  if (method == Method::Grpo) {
    be.for_each(n, [=] GG_HD(uint32_t i) { out[i] = W.ae[W.pos[i]]; });
    be.synchronize();
    return;
  }

  // ---- 4. Nodes: distinct (group, state) pairs of all endpoints, by a stable sort on (group, hi, lo).
  const bool need_dst = shape.distances;
  const uint32_t items = static_cast<uint32_t>(shape.items);
  const uint32_t node_bound = G + items;
  be.for_each(n, [=] GG_HD(uint32_t i) {
    const uint32_t e = W.pos[i];
    const uint32_t t = W.rid[i];
    const uint32_t g = W.tgroup[t];
    W.ilo[e] = state[2 * static_cast<size_t>(i)];
    W.ihi[e] = state[2 * static_cast<size_t>(i) + 1];
    W.ig[e] = g;
    if (need_dst) {
      const uint32_t hi = W.tend[t];
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
      W.dkind[e] = kind;
      W.ilo[n + e] = f ? f[0] : 0;
      W.ihi[n + e] = f ? f[1] : 0;
      W.ig[n + e] = f ? g : G;  // G: not a state, sorts after every real key
    }
  });
  be.for_each(items, [=] GG_HD(uint32_t k) {
    W.va[k] = k;
    W.ka[k] = W.ilo[k];
  });
  be.sort_pairs(W.ka, W.kb, W.va, W.vb, items, 64);
  be.for_each(items, [=] GG_HD(uint32_t j) { W.ka[j] = W.ihi[W.vb[j]]; });
  be.sort_pairs(W.ka, W.kb, W.vb, W.va, items, 64);
  be.for_each(items, [=] GG_HD(uint32_t j) { W.ka[j] = W.ig[W.va[j]]; });
  be.sort_pairs(W.ka, W.kb, W.va, W.vb, items, bits_for(G));
  be.for_each(items, [=] GG_HD(uint32_t p) {
    const uint32_t it = W.vb[p];
    const uint64_t g = W.kb[p];
    bool fresh = false;
    if (g < G) {
      if (p == 0) {
        fresh = true;
      } else {
        const uint32_t prev = W.vb[p - 1];
        fresh = W.kb[p - 1] != g || W.ilo[prev] != W.ilo[it] || W.ihi[prev] != W.ihi[it];
      }
    }
    W.sa[p] = fresh ? 1u : 0u;
    if (p == 0) W.sa[items] = 0;
  });
  be.exclusive_sum(W.sa, W.sb, items + 1);
  be.for_each(items, [=] GG_HD(uint32_t p) {
    if (p == 0) {
      W.rg[G] = W.sb[items];
      W.counts[kCountNodes] = G + W.sb[items];
    }
    const uint32_t g = static_cast<uint32_t>(W.kb[p]);
    if (g >= G) return;
    const uint32_t node = g + 1 + (W.sb[p + 1] - 1);  // SUCCESS of g is g + rg[g]; its states follow
    const uint32_t it = W.vb[p];
    if (it < n) {
      W.src[it] = node;
    } else {
      W.dst[it - n] = static_cast<int32_t>(node);
    }
    if (W.sa[p]) W.ngroup[node] = g;
    if (p == 0 || W.kb[p - 1] != g) W.rg[g] = W.sb[p];
  });
  be.for_each(G, [=] GG_HD(uint32_t g) { W.ngroup[g + W.rg[g]] = g; });
  if (need_dst) {
    be.for_each(n, [=] GG_HD(uint32_t e) {
      const uint8_t kind = W.dkind[e];
      if (kind == kDstState) return;
      const uint32_t t = W.rid[W.erow[e]];
      if (kind == kDstSuccess) {
        const uint32_t g = W.tgroup[t];
        W.dst[e] = static_cast<int32_t>(g + W.rg[g]);
      } else {
        W.dst[e] = -static_cast<int32_t>(t) - 1;
      }
    });
  }
  // Out-edges of every node, in row order: the step groups.
  be.for_each(n, [=] GG_HD(uint32_t e) {
    W.ka[e] = W.src[e];
    W.va[e] = e;
  });
  be.sort_pairs(W.ka, W.kb, W.va, W.csr, n, bits_for(node_bound));
  be.fill(W.obeg, 0, (static_cast<size_t>(node_bound) + 1) * sizeof(uint32_t));
  be.fill(W.oend, 0, (static_cast<size_t>(node_bound) + 1) * sizeof(uint32_t));
  be.for_each(n, [=] GG_HD(uint32_t k) {
    const uint32_t v = static_cast<uint32_t>(W.kb[k]);
    W.ksrc[k] = v;
    if (k == 0 || W.kb[k - 1] != v) W.obeg[v] = k;
    if (k + 1 == n || W.kb[k + 1] != v) W.oend[v] = k + 1;
  });

  // ---- 5. Step returns.
  if (method == Method::Gigpo) {
    const double gamma = o.gamma;
    be.for_each(T, [=] GG_HD(uint32_t t) {
      const uint32_t lo = W.tbeg[t];
      const uint32_t hi = W.tend[t];
      const uint32_t base = W.tposoff[t];
      double running = 0.0;
      for (uint32_t i = hi; i-- > lo;) {
        const double r = reward ? reward[i] : ((i + 1 == hi && success[i]) ? sr : 0.0);
        running = r + gamma * running;
        W.sret[base + (i - lo)] = running;
      }
    });
  } else {
    run_distances<B>(be, batch, o, W, T, G, node_bound);
    if (next_distance) {
      be.for_each(n, [=] GG_HD(uint32_t i) {
        const uint32_t e = W.pos[i];
        const int32_t to = W.dst[e];
        next_distance[i] = to >= 0 ? W.dist[to] : W.far[W.ngroup[W.src[e]]];
      });
      if (!out) {
        be.synchronize();
        return;
      }
    }
    // omega ** exponent for each edge, through the distinct exponents (std::pow on the host).
    const bool normalize_distance = o.normalize_distance;
    const bool paper = o.convention == Convention::Paper;
    be.for_each(n, [=] GG_HD(uint32_t e) {
      const uint32_t s = W.src[e];
      const int32_t to = W.dst[e];
      const double d_next = to >= 0 ? W.dist[to] : W.far[W.ngroup[s]];
      double x;
      if (normalize_distance) {
        x = d_next - W.dist[s] + 1.0;
      } else if (paper) {
        x = d_next + (cost ? cost[W.erow[e]] : 1.0);
      } else {
        x = d_next;
      }
      W.ka[e] = double_bits(x);
      W.va[e] = e;
    });
    be.sort_pairs(W.ka, W.kb, W.va, W.vb, n, 64);
    be.for_each(n, [=] GG_HD(uint32_t p) {
      W.sa[p] = (p == 0 || W.kb[p] != W.kb[p - 1]) ? 1u : 0u;
      if (p == 0) W.sa[n] = 0;
    });
    be.exclusive_sum(W.sa, W.sb, n + 1);
    be.for_each(n, [=] GG_HD(uint32_t p) {
      const uint32_t u = W.sb[p + 1] - 1;
      W.uidx[W.vb[p]] = u;
      if (W.sa[p]) W.ka[u] = W.kb[p];
    });
    uint32_t num_exponents = 0;
    be.to_host_async(&num_exponents, W.sb + n, sizeof num_exponents);
    be.synchronize();
    std::vector<uint64_t> exponents(num_exponents);
    be.to_host_async(exponents.data(), W.ka, num_exponents * sizeof(uint64_t));
    be.synchronize();
    std::vector<double> powers(num_exponents);
    for (uint32_t u = 0; u < num_exponents; ++u) powers[u] = std::pow(o.omega, bits_double(exponents[u]));
    be.to_device(W.powtab, powers.data(), num_exponents * sizeof(double));
    be.for_each(n, [=] GG_HD(uint32_t e) { W.sret[e] = sr * W.powtab[W.uidx[e]]; });
  }
  if (valid) {
    be.for_each(n, [=] GG_HD(uint32_t e) {
      if (!valid[W.erow[e]]) W.sret[e] -= pen;
    });
  }

  // ---- 6. Step advantages (normalized within each step group) and the output.
  const double ew = o.episode_weight;
  const double sw = o.step_weight;
  be.for_each_counted(W.counts + kCountNodes, node_bound, [=] GG_HD(uint32_t v) {
    const uint32_t b0 = W.obeg[v];
    const uint32_t b1 = W.oend[v];
    if (b0 == b1) return;
    normalize_sequential(b1 - b0, norm, eps, true, Gathered{W.sret, W.csr + b0},
                         WriteAdvantage{out, W.csr + b0, W.erow, W.ae, ew, sw});
  });
  be.synchronize();
}

}  // namespace cuda_impl
}  // namespace graphgpo
