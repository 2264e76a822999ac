// Stages 5 and 6 of the device pipeline (pipeline.cuh): step returns R_S per edge, and the step
// advantages normalized within each step group, combined with A_E into the output.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "graphgpo/cuda.hpp"
#include "graphgpo/options.hpp"
#include "hd.cuh"
#include "stage_distances.cuh"
#include "workspace.cuh"

namespace graphgpo {
namespace cuda_impl {

using cuda::DeviceBatch;

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

// Stage 5 (gigpo): the discounted remaining reward of each edge's trajectory.
template <class B>
void discounted_step_returns(B& be, const DeviceBatch& batch, const Options& o, const Work& w, uint32_t T) {
  const uint8_t* success = batch.success;
  const double* reward = batch.reward;
  const Work W = w;  // captured by value in the kernels
  const double sr = o.success_reward;
  const double gamma = o.gamma;
  be.for_each(T, [=] GG_HD(uint32_t t) {
    const uint32_t lo = W.traj.begin[t];
    const uint32_t hi = W.traj.end[t];
    const uint32_t base = W.traj.first_edge[t];
    double running = 0.0;
    for (uint32_t i = hi; i-- > lo;) {
      const double r = reward ? reward[i] : ((i + 1 == hi && success[i]) ? sr : 0.0);
      running = r + gamma * running;
      W.edges.step_return[base + (i - lo)] = running;
    }
  });
}

// Stage 5 (graphgpo): distances to SUCCESS, then success_reward * omega ** exponent per edge, through the
// distinct exponents (std::pow on the host, like the CPU engine). With `next_distance`, also each row's
// d(next node); with `out` null it stops after that and returns false.
template <class B>
bool distance_step_returns(B& be, const DeviceBatch& batch, const Options& o, const Work& w, uint32_t T, uint32_t G,
                           uint32_t node_bound, double* out, double* next_distance) {
  const uint32_t n = static_cast<uint32_t>(batch.n);
  const double* cost = batch.cost;
  const Work W = w;  // captured by value in the kernels
  const double sr = o.success_reward;
  run_distances<B>(be, batch, o, W, T, G, node_bound);
  if (next_distance) {
    be.for_each(n, [=] GG_HD(uint32_t i) {
      const uint32_t e = W.rows.edge[i];
      const int32_t to = W.graph.dst[e];
      next_distance[i] = to >= 0 ? W.dist.node[to] : W.groups.far[W.graph.node_group[W.graph.src[e]]];
    });
    if (!out) {
      be.synchronize();
      return false;
    }
  }
  // omega ** exponent for each edge, through the distinct exponents (std::pow on the host).
  const bool normalize_distance = o.normalize_distance;
  const bool paper = o.convention == Convention::Paper;
  be.for_each(n, [=] GG_HD(uint32_t e) {
    const uint32_t s = W.graph.src[e];
    const int32_t to = W.graph.dst[e];
    const double d_next = to >= 0 ? W.dist.node[to] : W.groups.far[W.graph.node_group[s]];
    double x;
    if (normalize_distance) {
      x = d_next - W.dist.node[s] + 1.0;
    } else if (paper) {
      x = d_next + (cost ? cost[W.edges.row[e]] : 1.0);
    } else {
      x = d_next;
    }
    W.sort.keys_in[e] = double_bits(x);
    W.sort.values_in[e] = e;
  });
  be.sort_pairs(W.sort.keys_in, W.sort.keys_out, W.sort.values_in, W.sort.values_out, n, 64);
  be.for_each(n, [=] GG_HD(uint32_t p) {
    W.scan.in[p] = (p == 0 || W.sort.keys_out[p] != W.sort.keys_out[p - 1]) ? 1u : 0u;
    if (p == 0) W.scan.in[n] = 0;
  });
  be.exclusive_sum(W.scan.in, W.scan.out, n + 1);
  be.for_each(n, [=] GG_HD(uint32_t p) {
    const uint32_t u = W.scan.out[p + 1] - 1;
    W.dist.exponent_index[W.sort.values_out[p]] = u;
    if (W.scan.in[p]) W.sort.keys_in[u] = W.sort.keys_out[p];
  });
  uint32_t num_exponents = 0;
  be.to_host_async(&num_exponents, W.scan.out + n, sizeof num_exponents);
  be.synchronize();
  std::vector<uint64_t> exponents(num_exponents);
  be.to_host_async(exponents.data(), W.sort.keys_in, num_exponents * sizeof(uint64_t));
  be.synchronize();
  std::vector<double> powers(num_exponents);
  for (uint32_t u = 0; u < num_exponents; ++u) powers[u] = std::pow(o.omega, bits_double(exponents[u]));
  be.to_device(W.dist.powers, powers.data(), num_exponents * sizeof(double));
  be.for_each(n, [=] GG_HD(uint32_t e) { W.edges.step_return[e] = sr * W.dist.powers[W.dist.exponent_index[e]]; });
  return true;
}

// Stage 5, last step: the invalid penalty.
template <class B>
void penalize_invalid_steps(B& be, const DeviceBatch& batch, const Options& o, const Work& w) {
  const uint32_t n = static_cast<uint32_t>(batch.n);
  const uint8_t* valid = batch.valid;
  const Work W = w;  // captured by value in the kernels
  const double pen = o.invalid_penalty;
  if (valid) {
    be.for_each(n, [=] GG_HD(uint32_t e) {
      if (!valid[W.edges.row[e]]) W.edges.step_return[e] -= pen;
    });
  }
}

// Stage 6: step advantages (step returns normalized within each step group, the out-edges of a node), and
// out[row] = episode_weight * A_E + step_weight * A_S.
template <class B>
void step_advantages(B& be, const Options& o, const Work& w, uint32_t node_bound, double* out) {
  const Work W = w;  // captured by value in the kernels
  const int norm = o.norm == Norm::Mean ? kNormMean : kNormMeanStd;
  const double eps = o.eps;
  const double ew = o.episode_weight;
  const double sw = o.step_weight;
  be.for_each_counted(W.counters + kCountNodes, node_bound, [=] GG_HD(uint32_t v) {
    const uint32_t b0 = W.graph.out_begin[v];
    const uint32_t b1 = W.graph.out_end[v];
    if (b0 == b1) return;
    normalize_sequential(b1 - b0, norm, eps, true, Gathered{W.edges.step_return, W.graph.out_edge + b0},
                         WriteAdvantage{out, W.graph.out_edge + b0, W.edges.row, W.edges.episode_adv, ew, sw});
  });
  be.synchronize();
}

}  // namespace cuda_impl
}  // namespace graphgpo
