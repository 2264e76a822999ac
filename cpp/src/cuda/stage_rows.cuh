// Stages 1 and 2 of the device pipeline (pipeline.cuh): rows into trajectories and groups, with the CPU
// engine's row rules and messages (cpp/src/batch.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "graphgpo/cuda.hpp"
#include "graphgpo/error.hpp"
#include "hd.cuh"
#include "workspace.cuh"

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

GG_HD GG_INLINE void atomic_min_u64(uint64_t* p, uint64_t v) {
#if defined(__CUDA_ARCH__)
  atomicMin(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
#else
  if (v < *p) *p = v;
#endif
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

// Stage 1: runs of rows (trajectories: traj.begin/end, rows.traj) and the per-row rules (rows.verdict, the
// first offender in first_error). Returns T, the trajectory count.
template <class B>
uint32_t find_trajectories(B& be, const DeviceBatch& batch, const Work& w) {
  const uint32_t n = static_cast<uint32_t>(batch.n);
  const int64_t* group = batch.group;
  const int64_t* traj = batch.trajectory;
  const uint8_t* success = batch.success;
  const double* reward = batch.reward;
  const double* cost = batch.cost;
  const Work W = w;  // captured by value in the kernels
  be.fill(W.first_error, 0xff, sizeof(uint64_t));
  be.for_each(n, [=] GG_HD(uint32_t i) {
    const bool start = i == 0 || traj[i] != traj[i - 1];
    W.scan.in[i] = start ? 1u : 0u;
    if (i == 0) W.scan.in[n] = 0;
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
    W.rows.verdict[i] = code;
  });
  be.exclusive_sum(W.scan.in, W.scan.out, n + 1);
  uint32_t num_traj = 0;
  be.to_host_async(&num_traj, W.scan.out + n, sizeof num_traj);
  be.for_each(n, [=] GG_HD(uint32_t i) {
    const uint32_t t = W.scan.out[i + 1] - 1;
    W.rows.traj[i] = t;
    if (W.scan.in[i]) {
      W.traj.begin[t] = i;
      W.traj.id_key[t] = static_cast<uint64_t>(traj[i]) ^ kSignBit;
      W.traj.group_key[t] = static_cast<uint64_t>(group[i]) ^ kSignBit;
    }
    if (i + 1 == n || W.scan.in[i + 1]) W.traj.end[t] = i + 1;
  });
  be.synchronize();
  const uint32_t T = num_traj;

  // A trajectory id that starts two runs: the later run's first row is the offender.
  be.for_each(T, [=] GG_HD(uint32_t t) { W.sort.values_in[t] = t; });
  be.sort_pairs(W.traj.id_key, W.sort.keys_in, W.sort.values_in, W.sort.values_out, T, 64);
  be.for_each(T, [=] GG_HD(uint32_t p) {
    if (p > 0 && W.sort.keys_in[p] == W.sort.keys_in[p - 1]) {
      const uint32_t row = W.traj.begin[W.sort.values_out[p]];
      if (W.rows.verdict[row] == kRowOk) W.rows.verdict[row] = kErrSplit;
    }
  });
  be.for_each(n, [=] GG_HD(uint32_t i) {
    if (W.rows.verdict[i] != kRowOk) atomic_min_u64(W.first_error, (static_cast<uint64_t>(i) << 3) | W.rows.verdict[i]);
  });
  return num_traj;
}

// Stage 2: trajectories sorted by group id (stable: batch order within a group), the edge of every row
// (group row order), and the verdict of the row rules: throws the CPU engine's message for the first
// offending row. Returns G, the group count.
template <class B>
uint32_t order_by_group(B& be, const DeviceBatch& batch, const Work& w, uint32_t T) {
  const uint32_t n = static_cast<uint32_t>(batch.n);
  const Work W = w;  // captured by value in the kernels
  be.for_each(T, [=] GG_HD(uint32_t t) { W.sort.values_in[t] = t; });
  be.sort_pairs(W.traj.group_key, W.sort.keys_in, W.sort.values_in, W.traj.by_group, T, 64);
  be.for_each(T, [=] GG_HD(uint32_t p) {
    W.scan.in[p] = (p == 0 || W.sort.keys_in[p] != W.sort.keys_in[p - 1]) ? 1u : 0u;
    if (p == 0) W.scan.in[T] = 0;
  });
  be.exclusive_sum(W.scan.in, W.scan.out, T + 1);
  be.for_each(T, [=] GG_HD(uint32_t p) {
    const uint32_t t = W.traj.by_group[p];
    const uint32_t g = W.scan.out[p + 1] - 1;
    W.traj.group[t] = g;
    W.traj.sorted_pos[t] = p;
    if (W.scan.in[p]) W.groups.traj_begin[g] = p;
    if (p == 0) {
      const uint32_t G = W.scan.out[T];
      W.groups.traj_begin[G] = T;
      W.counters[kCountGroups] = G;
    }
  });
  // Edges: the rows of each group, trajectory after trajectory.
  be.for_each(T, [=] GG_HD(uint32_t p) {
    const uint32_t t = W.traj.by_group[p];
    W.scan.in[p] = W.traj.end[t] - W.traj.begin[t];
    if (p == 0) W.scan.in[T] = 0;
  });
  be.exclusive_sum(W.scan.in, W.scan.out, T + 1);
  be.for_each(T, [=] GG_HD(uint32_t p) {
    const uint32_t t = W.traj.by_group[p];
    W.traj.first_edge[t] = W.scan.out[p];
    const uint32_t g = W.traj.group[t];
    if (W.groups.traj_begin[g] == p) W.groups.edge_begin[g] = W.scan.out[p];
    if (p == 0) W.groups.edge_begin[W.counters[kCountGroups]] = n;
  });
  be.for_each(n, [=] GG_HD(uint32_t i) {
    const uint32_t t = W.rows.traj[i];
    const uint32_t e = W.traj.first_edge[t] + (i - W.traj.begin[t]);
    W.rows.edge[i] = e;
    W.edges.row[e] = i;
  });
  uint64_t verdict = 0;
  uint32_t num_groups = 0;
  be.to_host_async(&verdict, W.first_error, sizeof verdict);
  be.to_host_async(&num_groups, W.counters + kCountGroups, sizeof num_groups);
  be.synchronize();
  if (verdict != ~uint64_t(0)) report_row_error(be, batch, verdict);
  return num_groups;
}

}  // namespace cuda_impl
}  // namespace graphgpo
