// Stage 3 of the device pipeline (pipeline.cuh): the episode advantage A_E of every edge (SPEC "Episode
// advantage"), with the CPU engine's operations in its order.
#pragma once

#include <cstdint>

#include "graphgpo/cuda.hpp"
#include "graphgpo/options.hpp"
#include "hd.cuh"
#include "workspace.cuh"

namespace graphgpo {
namespace cuda_impl {

using cuda::DeviceBatch;

// Segment accessors for normalize_sequential (plain structs: usable in device code on both sides).

struct Contiguous {
  const double* v;
  GG_HD double operator()(uint32_t k) const { return v[k]; }
};
struct WriteContiguous {
  double* v;
  GG_HD void operator()(uint32_t k, double x) const { v[k] = x; }
};

// Stage 3: traj.score per trajectory, then edges.episode_adv, normalized per group over its rows
// (per_step) or over one score per trajectory (per_trajectory).
template <class B>
void episode_advantage(B& be, const DeviceBatch& batch, const Options& o, const Work& w, uint32_t T, uint32_t G) {
  const uint32_t n = static_cast<uint32_t>(batch.n);
  const uint8_t* success = batch.success;
  const uint8_t* valid = batch.valid;
  const double* reward = batch.reward;
  const Work W = w;  // captured by value in the kernels
  const double sr = o.success_reward;
  const double pen = o.invalid_penalty;
  const int norm = o.norm == Norm::Mean ? kNormMean : kNormMeanStd;
  const double eps = o.eps;
  const bool per_traj = o.episode_stats == EpisodeStats::PerTrajectory;
  be.for_each(T, [=] GG_HD(uint32_t t) {
    const uint32_t lo = W.traj.begin[t];
    const uint32_t hi = W.traj.end[t];
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
    W.traj.score[t] = total;
  });
  if (!per_traj) {
    be.for_each(n, [=] GG_HD(uint32_t i) {
      W.edges.scratch[W.rows.edge[i]] = W.traj.score[W.rows.traj[i]] - ((!valid || valid[i]) ? 0.0 : pen);
    });
    be.for_each(G, [=] GG_HD(uint32_t g) {
      const uint32_t b = W.groups.edge_begin[g];
      normalize_sequential(W.groups.edge_begin[g + 1] - b, norm, eps, false, Contiguous{W.edges.scratch + b},
                           WriteContiguous{W.edges.episode_adv + b});
    });
  } else {
    be.for_each(T, [=] GG_HD(uint32_t p) { W.edges.scratch[p] = W.traj.score[W.traj.by_group[p]]; });
    be.for_each(G, [=] GG_HD(uint32_t g) {
      const uint32_t b = W.groups.traj_begin[g];
      normalize_sequential(W.groups.traj_begin[g + 1] - b, norm, eps, false, Contiguous{W.edges.scratch + b},
                           WriteContiguous{W.edges.scratch + b});
    });
    be.for_each(n, [=] GG_HD(uint32_t i) { W.edges.episode_adv[W.rows.edge[i]] = W.edges.scratch[W.traj.sorted_pos[W.rows.traj[i]]]; });
  }
}

}  // namespace cuda_impl
}  // namespace graphgpo
