#include "graphgpo/estimators.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "graphgpo/distances.hpp"
#include "graphgpo/error.hpp"
#include "graphgpo/estimator_registry.hpp"
#include "graphgpo/graph.hpp"
#include "graphgpo/normalize.hpp"
#include "graphgpo/parallel.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

// omega ** k for integer k, memoized: graph distances are usually whole numbers, and std::pow dominated
// the profile. Entries are std::pow's own results, so the table changes no bit of the output.
class OmegaPowers {
 public:
  double operator()(double omega, double exponent) {
    if (omega != omega_) {
      omega_ = omega;
      table_.clear();
    }
    if (exponent >= 0.0 && exponent < kMaxTabled && exponent == std::floor(exponent)) {
      const size_t k = static_cast<size_t>(exponent);
      while (table_.size() <= k) table_.push_back(std::pow(omega, static_cast<double>(table_.size())));
      return table_[k];
    }
    return std::pow(omega, exponent);
  }

 private:
  static constexpr double kMaxTabled = 65536.0;
  double omega_ = -1.0;
  std::vector<double> table_;
};

// Per-thread scratch, reused across groups and calls.
struct Workspace {
  OmegaPowers omega_powers;
  GroupGraph graph;
  GraphScratch graph_scratch;
  DistanceScratch distance_scratch;
  std::vector<double> dist;
  std::vector<double> episode_reward;  // per trajectory of the group
  std::vector<double> values;          // per edge (row of the group)
  std::vector<double> episode_adv;     // per edge
  std::vector<double> outcome_adv;     // per edge: A_E scored without invalid_penalty (episode_out only)
  std::vector<double> step_return;     // per edge
  std::vector<double> gathered;
  std::vector<int32_t> step_key;  // merge="similar": step group of each edge
  std::vector<int32_t> start_rep;  // gigpo merge="similar": representative of each exact start state
  std::vector<int64_t> step_offsets, step_edges;
};

// Rows of group g in batch order, as [lo, hi) runs of its trajectories.
template <typename Body>
void for_each_trajectory(const BatchLayout& layout, size_t g, Body body) {
  for (int64_t k = layout.group_traj_offsets[g]; k < layout.group_traj_offsets[g + 1]; ++k) {
    const size_t t = static_cast<size_t>(layout.group_trajs[static_cast<size_t>(k)]);
    body(static_cast<size_t>(layout.traj_begin[t]), static_cast<size_t>(layout.traj_end[t]));
  }
}

// The batch row of the e-th row of group g (group row order). Only for error messages: it walks the runs.
size_t group_row(const BatchLayout& layout, size_t g, size_t e) {
  size_t row = 0;
  bool found = false;
  for_each_trajectory(layout, g, [&](size_t lo, size_t hi) {
    if (found) return;
    if (e < hi - lo) {
      row = lo + e;
      found = true;
    } else {
      e -= hi - lo;
    }
  });
  return row;
}

// Finite inputs can still produce values float64 cannot hold (sums of rewards near 1e308, a huge weight):
// such a row is an error naming the row and the quantity, never an inf or NaN advantage.
const char* const kBeyondFloat64 = " is beyond the float64 range";

// A_E for every row of the group, in group row order (SPEC "Episode advantage"), into `adv`, with the row
// scores lowered by `invalid_penalty` on invalid rows (o.invalid_penalty, or 0 for episode_out).
void episode_advantage(const BatchView& b, const BatchLayout& layout, size_t g, const Options& o,
                       double invalid_penalty, Workspace& w, std::vector<double>& adv) {
  const size_t num_rows = static_cast<size_t>(layout.group_num_rows[g]);
  auto& ep = w.episode_reward;
  ep.clear();
  for_each_trajectory(layout, g, [&](size_t lo, size_t hi) {
    double total = 0.0;
    if (b.reward) {
      for (size_t i = lo; i < hi; ++i) total += b.reward[i];
      if (!std::isfinite(total))
        row_fail(lo, "reward: the sum of trajectory " + std::to_string(b.trajectory[lo]) + "'s rewards" +
                         kBeyondFloat64);
    } else if (b.success[lo]) {
      total = o.success_reward;
    }
    ep.push_back(total);
  });
  auto& values = w.values;
  values.resize(num_rows);
  adv.resize(num_rows);
  if (o.episode_stats == EpisodeStats::PerStep) {
    size_t e = 0;
    size_t t = 0;
    for_each_trajectory(layout, g, [&](size_t lo, size_t hi) {
      for (size_t i = lo; i < hi; ++i, ++e) {
        values[e] = ep[t] - ((!b.valid || b.valid[i]) ? 0.0 : invalid_penalty);
        if (!std::isfinite(values[e])) row_fail(i, std::string("the episode score (episode reward - invalid_penalty)") + kBeyondFloat64);
      }
      ++t;
    });
    const size_t bad =
        normalize_segment(values.data(), num_rows, o.norm, o.eps, SingletonRule::MeanZeroStdOne, adv.data());
    if (bad < num_rows) row_fail(group_row(layout, g, bad), std::string("A_E (score - mean)") + kBeyondFloat64);
    return;
  }
  // Per trajectory: one score each (episode reward minus the penalty of each invalid row).
  size_t t = 0;
  for_each_trajectory(layout, g, [&](size_t lo, size_t hi) {
    size_t invalid = 0;
    if (b.valid)
      for (size_t i = lo; i < hi; ++i) invalid += b.valid[i] ? 0 : 1;
    ep[t] = ep[t] - invalid_penalty * static_cast<double>(invalid);
    if (!std::isfinite(ep[t]))
      row_fail(lo, "the episode score of trajectory " + std::to_string(b.trajectory[lo]) +
                       " (episode reward - invalid_penalty per invalid row)" + kBeyondFloat64);
    ++t;
  });
  const size_t bad = normalize_segment(ep.data(), ep.size(), o.norm, o.eps, SingletonRule::MeanZeroStdOne, ep.data());
  if (bad < ep.size()) {
    const size_t trajectory = static_cast<size_t>(layout.group_trajs[static_cast<size_t>(layout.group_traj_offsets[g]) + bad]);
    row_fail(static_cast<size_t>(layout.traj_begin[trajectory]), std::string("A_E (score - mean)") + kBeyondFloat64);
  }
  size_t e = 0;
  t = 0;
  for_each_trajectory(layout, g, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i, ++e) adv[e] = ep[t];
    ++t;
  });
}

// GiGPO step returns: discounted remaining reward of the trajectory.
void discounted_returns(const BatchView& b, const BatchLayout& layout, size_t g, const Options& o, Workspace& w) {
  size_t e = 0;
  for_each_trajectory(layout, g, [&](size_t lo, size_t hi) {
    double running = 0.0;
    for (size_t i = hi; i-- > lo;) {
      const double r = b.reward ? b.reward[i] : ((i + 1 == hi && b.success[i]) ? o.success_reward : 0.0);
      running = r + o.gamma * running;
      if (!std::isfinite(running)) row_fail(i, std::string("reward: the discounted return") + kBeyondFloat64);
      w.step_return[e + (i - lo)] = running;
    }
    e += hi - lo;
  });
}

// The exponent of omega in edge e's GraphGPO step return, per convention.
double graph_exponent(const BatchView& b, const Options& o, const Workspace& w, size_t e) {
  const GroupGraph& graph = w.graph;
  const double d_next = w.dist[static_cast<size_t>(graph.edge_dst[e])];
  if (o.normalize_distance) return d_next - w.dist[static_cast<size_t>(graph.edge_src[e])] + 1.0;
  if (o.convention == Convention::Paper) return d_next + (b.cost ? b.cost[graph.edge_row[e]] : 1.0);
  return d_next;
}

// GraphGPO step returns: success_reward * omega ** exponent, exponent per convention. May be inf (omega to a
// large negative power, with normalize_distance): see scaled_graph_step_group.
void graph_returns(const BatchView& b, const Options& o, Workspace& w) {
  const GroupGraph& graph = w.graph;
  compute_distances(graph, b, o.distance, w.dist, w.distance_scratch);
  for (size_t e = 0; e < static_cast<size_t>(graph.num_edges()); ++e)
    w.step_return[e] = o.success_reward * w.omega_powers(o.omega, graph_exponent(b, o, w, e));
}

// Below this, every return of a step group is so small that float64 may have rounded their differences away.
constexpr double kSmallestExactReturn = 0x1p-900;

// Whether a GraphGPO step group's returns overflowed or are all tiny (see scaled_graph_step_group).
bool needs_scaling(const double* returns, size_t count) {
  double largest = 0.0;
  bool finite = true;  // NaN too: success_reward 0 times an overflowed power
  for (size_t k = 0; k < count; ++k) {
    const double magnitude = std::fabs(returns[k]);
    finite &= magnitude <= std::numeric_limits<double>::max();
    largest = std::max(largest, magnitude);
  }
  return !finite || largest < kSmallestExactReturn;
}

// A_S of one GraphGPO step group whose returns (success_reward * omega^x minus invalid_penalty) overflow
// float64 or are all tiny: each is written as 2^L * y with L the log2 of the largest term, and y computed
// from exponent differences (omega^(x - x_min)), so nothing overflows; normalization only sees ratios.
// `edges` are the group's edge ids; returns the index of the first non-finite A_S (norm = Mean), or count.
size_t scaled_graph_step_group(const BatchView& b, const Options& o, const Workspace& w, const int64_t* edges,
                               size_t count, double* out) {
  constexpr double kNone = -std::numeric_limits<double>::infinity();
  const auto invalid = [&](size_t k) { return b.valid && !b.valid[w.graph.edge_row[static_cast<size_t>(edges[k])]]; };
  double x_min = std::numeric_limits<double>::infinity();
  bool any_invalid = false;
  for (size_t k = 0; k < count; ++k) {
    x_min = std::min(x_min, graph_exponent(b, o, w, static_cast<size_t>(edges[k])));
    any_invalid |= invalid(k);
  }
  // log2 of the largest return term and of the penalty; -inf where the term is 0.
  const double log2_return = (o.success_reward == 0.0 || x_min == std::numeric_limits<double>::infinity())
                                 ? kNone
                                 : std::log2(std::fabs(o.success_reward)) + x_min * std::log2(o.omega);
  const double log2_penalty = (any_invalid && o.invalid_penalty != 0.0) ? std::log2(std::fabs(o.invalid_penalty)) : kNone;
  const double log2_scale = std::max(log2_return, log2_penalty);
  if (log2_scale == kNone) {  // every value is 0
    std::fill(out, out + count, 0.0);
    return count;
  }
  const double return_unit = log2_return == kNone ? 0.0 : std::copysign(std::exp2(log2_return - log2_scale), o.success_reward);
  const double penalty_unit = log2_penalty == kNone ? 0.0 : std::copysign(std::exp2(log2_penalty - log2_scale), o.invalid_penalty);
  bool all_equal = true;
  for (size_t k = 0; k < count; ++k) {
    const double x = graph_exponent(b, o, w, static_cast<size_t>(edges[k]));
    out[k] = (return_unit == 0.0 ? 0.0 : return_unit * std::pow(o.omega, x - x_min)) - (invalid(k) ? penalty_unit : 0.0);
    all_equal &= out[k] == out[0];
  }
  if (all_equal) {
    std::fill(out, out + count, 0.0);
    return count;
  }
  return normalize_scaled_segment(out, count, log2_scale, o.norm, o.eps, out);
}

bool group_has_success(const BatchView& b, const BatchLayout& layout, size_t g) {
  for (int64_t k = layout.group_traj_offsets[g]; k < layout.group_traj_offsets[g + 1]; ++k)
    if (b.success[layout.traj_begin[static_cast<size_t>(layout.group_trajs[static_cast<size_t>(k)])]]) return true;
  return false;
}

// Each estimator's step returns R_S (SPEC "Estimators"), into w.step_return per edge of w.graph. The
// formulas of the estimator registry's entries (estimator_registry.cpp): a new estimator adds its case here.
void step_returns(Method method, const BatchView& b, const BatchLayout& layout, size_t g, const Options& o,
                  Workspace& w) {
  switch (method) {
    case Method::Gigpo: discounted_returns(b, layout, g, o, w); return;
    case Method::GraphGpo: graph_returns(b, o, w); return;
    case Method::Grpo:    // no step advantage
    case Method::ProGpo:  // its step term is progress_advantages, below
      break;
  }
  fail(std::string("no step returns for method '") + method_name(method) + "'");
}

// ProGPO's progress of one row (SPEC "ProGPO"): -1 for an invalid action or a self-loop; 0 where both ends
// cannot reach SUCCESS (every row of a group without a success); else min(1, (d(s) - d(s')) / cost) when the
// step gets closer to SUCCESS by more than a rounding error, -1 when it does not.
constexpr double kProgressTolerance = 1e-9;

double progress_sign(double d_state, double d_next, double unreachable, double cost, bool loop, bool valid) {
  if (loop || !valid) return -1.0;
  if (d_state == unreachable && d_next == unreachable) return 0.0;
  const double q = (d_state - d_next) / cost;
  return q > kProgressTolerance ? std::min(1.0, q) : -1.0;
}

// ProGPO: A = episode_weight * A_E + step_weight * rho * K, K = |episode_weight| * max |A_E| + 1, so that the
// step's progress decides the sign wherever rho = +-1.
void progress_advantages(const BatchView& b, const Options& o, Workspace& w, double* out) {
  const GroupGraph& graph = w.graph;
  const double unreachable = compute_distances(graph, b, o.distance, w.dist, w.distance_scratch);
  const size_t num_edges = static_cast<size_t>(graph.num_edges());
  double largest = 0.0;
  for (size_t e = 0; e < num_edges; ++e) largest = std::max(largest, std::abs(w.episode_adv[e]));
  const double scale = std::abs(o.episode_weight) * largest + 1.0;
  for (size_t e = 0; e < num_edges; ++e) {
    const size_t row = static_cast<size_t>(graph.edge_row[e]);
    const int32_t src = graph.edge_src[e];
    const int32_t dst = graph.edge_dst[e];
    const double rho = progress_sign(w.dist[static_cast<size_t>(src)], w.dist[static_cast<size_t>(dst)], unreachable,
                                     b.cost ? b.cost[row] : 1.0, src == dst, !b.valid || b.valid[row]);
    const double a = o.episode_weight * w.episode_adv[e] + o.step_weight * rho * scale;
    if (!std::isfinite(a)) row_fail(row, std::string("episode_weight * A_E + step_weight * rho * K") + kBeyondFloat64);
    out[row] = a;
  }
}

// Normalizes step returns within each step group (edges step_edges[offsets[k] .. offsets[k+1])) and writes
// A = episode_weight * A_E + step_weight * A_S for their rows. GraphGPO step groups whose returns overflow
// or are all tiny go through scaled_graph_step_group; a value float64 cannot hold is a RowError.
void normalize_step_groups(Method method, const BatchView& b, const std::vector<int64_t>& offsets,
                           const std::vector<int64_t>& step_edges, const Options& o, Workspace& w, double* out) {
  const GroupGraph& graph = w.graph;
  auto& gathered = w.gathered;
  for (size_t v = 0; v + 1 < offsets.size(); ++v) {
    const int64_t first = offsets[v];
    const size_t count = static_cast<size_t>(offsets[v + 1] - first);
    if (count == 0) continue;
    const int64_t* edges = step_edges.data() + first;
    gathered.resize(count);
    for (size_t k = 0; k < count; ++k) gathered[k] = w.step_return[static_cast<size_t>(edges[k])];
    size_t bad;
    if (method == Method::GraphGpo && count > 1 && needs_scaling(gathered.data(), count)) {
      bad = scaled_graph_step_group(b, o, w, edges, count, gathered.data());
    } else {
      bad = normalize_segment(gathered.data(), count, o.norm, o.eps, SingletonRule::Zero, gathered.data());
    }
    if (bad < count)
      row_fail(static_cast<size_t>(graph.edge_row[static_cast<size_t>(edges[bad])]),
               std::string("A_S (step return - mean)") + kBeyondFloat64);
    for (size_t k = 0; k < count; ++k) {
      const size_t e = static_cast<size_t>(edges[k]);
      const double a = o.episode_weight * w.episode_adv[e] + o.step_weight * gathered[k];
      if (!std::isfinite(a))
        row_fail(static_cast<size_t>(graph.edge_row[e]), std::string("episode_weight * A_E + step_weight * A_S") + kBeyondFloat64);
      out[graph.edge_row[e]] = a;
    }
  }
}

void process_group(Method method, const BatchView& b, const BatchLayout& layout, size_t g, const Options& o,
                   Workspace& w, double* out, double* episode_out, const StoredTaskView* stored) {
  const EstimatorSpec& spec = estimator(method);
  episode_advantage(b, layout, g, o, o.invalid_penalty, w, w.episode_adv);
  if (episode_out) {  // the outcome's A_E: the same scores without invalid_penalty, one value per trajectory
    const bool penalized = b.valid && o.invalid_penalty != 0.0;
    if (penalized) episode_advantage(b, layout, g, o, 0.0, w, w.outcome_adv);
    const std::vector<double>& outcome = penalized ? w.outcome_adv : w.episode_adv;
    size_t e = 0;
    for_each_trajectory(layout, g, [&](size_t lo, size_t hi) {
      for (size_t i = lo; i < hi; ++i, ++e) episode_out[i] = outcome[e];
    });
  }
  if (!spec.builds_graph) {
    size_t e = 0;
    for_each_trajectory(layout, g, [&](size_t lo, size_t hi) {
      for (size_t i = lo; i < hi; ++i, ++e) out[i] = w.episode_adv[e];
    });
    return;
  }
  const bool similar = o.merge == Merge::Similar;
  // merges_graph_nodes (graphgpo, progpo): merged graph nodes; gigpo: merged start states (below), exact graph.
  // In a group without a success graphgpo's distances are all 1 whatever the nodes are, so it skips merging
  // there (progpo does not: merged self-loops change its sign).
  NodeMerging merging;
  merging.similar = similar && spec.merges_graph_nodes &&
                    (method != Method::GraphGpo || group_has_success(b, layout, g));
  merging.threshold = o.similarity;
  build_group_graph(b, layout, g, w.graph, w.graph_scratch, /*with_reverse=*/spec.needs_reverse_csr, merging, stored);
  if (method == Method::ProGpo) {  // its step term is the progress of each row, not normalized step returns
    progress_advantages(b, o, w, out);
    return;
  }
  const GroupGraph& graph = w.graph;
  const size_t num_edges = static_cast<size_t>(graph.num_edges());
  w.step_return.resize(num_edges);
  step_returns(method, b, layout, g, o, w);
  if (b.valid) {
    for (size_t e = 0; e < num_edges; ++e) {
      if (b.valid[graph.edge_row[e]]) continue;
      w.step_return[e] -= o.invalid_penalty;
      // gigpo's returns are finite so far (checked above); graphgpo's are handled per step group below.
      if (method == Method::Gigpo && !std::isfinite(w.step_return[e]))
        row_fail(static_cast<size_t>(graph.edge_row[e]), std::string("the step return (reward - invalid_penalty)") + kBeyondFloat64);
    }
  }
  // Step groups: the rows leaving one node, i.e. the out-edges of each node in the CSR, unless merging
  // made the nodes differ from the step groups.
  if (!similar || (spec.merges_graph_nodes && !merging.similar)) {
    normalize_step_groups(method, b, graph.out_offsets, graph.out_edges, o, w, out);
    return;
  }
  size_t num_keys;
  if (spec.merges_graph_nodes) {
    w.step_key = graph.edge_exact_src;  // graphgpo: step groups stay exact (the official recipe)
    num_keys = static_cast<size_t>(graph.num_exact_states) + 1;
  } else {
    // gigpo (verl-agent's enable_similarity): start states only, in row order, merged greedily.
    SimilarMerger& merger = w.graph_scratch.merger;
    merger.reset(o.similarity);
    w.start_rep.assign(static_cast<size_t>(graph.num_nodes()), -1);
    w.step_key.resize(num_edges);
    for (size_t e = 0; e < num_edges; ++e) {
      const size_t v = static_cast<size_t>(graph.edge_src[e]);
      if (w.start_rep[v] < 0) w.start_rep[v] = merger.add(origin_text(b, graph.node_origin[v]));
      w.step_key[e] = w.start_rep[v];
    }
    num_keys = merger.num_representatives();
  }
  build_csr(w.step_key, num_keys, w.step_offsets, w.step_edges);
  normalize_step_groups(method, b, w.step_offsets, w.step_edges, o, w, out);
}

}  // namespace

std::vector<double> compute_advantages(Method method, const BatchView& batch, const Options& options) {
  return compute_advantages(method, batch, options, nullptr);
}

std::vector<double> compute_advantages(Method method, const BatchView& batch, const Options& options,
                                       GraphMemory* memory) {
  std::vector<double> out(batch.n, 0.0);
  compute_advantages_into(method, batch, options, out.data(), memory);
  return out;
}

void compute_advantages_into(Method method, const BatchView& batch, const Options& options, double* out) {
  compute_advantages_into(method, batch, options, out, nullptr);
}

void compute_advantages_into(Method method, const BatchView& batch, const Options& options, double* out,
                             GraphMemory* memory, double* episode_out) {
  validate_options(options);
  if (memory) check_memory_options(method, options);
  if (batch.task && !memory) fail("task is only used with a graph memory (pass memory= as well)");
  const bool similar = options.merge == Merge::Similar && estimator(method).reads("states");  // grpo: no effect
  if (similar) validate_texts(batch);
  const BatchLayout layout =
      validate_and_layout(batch, estimator(method).reads("distance") && options.distance == DistanceKind::Expected,
                          options.num_threads);
  const size_t num_groups = layout.num_groups();
  // With memory: each group's graph also holds its task's stored edges (as the memory was before the call);
  // the memory stores this call's edges only after every group is done (and not at all if one fails).
  std::unique_ptr<GraphMemory::Call> memory_call;
  if (memory) memory_call = std::make_unique<GraphMemory::Call>(*memory, batch, layout);
  if (num_groups > 0) {
    // Merging similar texts costs far more per row than the rest: worth threads on much smaller batches.
    const int threads = resolve_num_threads(options.num_threads, batch.n / (similar ? 32 : 4096));
    // Small chunks: a group costs tens of microseconds, and the last chunk handed out sets how long the
    // other threads wait at the end; claiming a chunk is one atomic increment.
    const size_t chunk = std::max<size_t>(1, num_groups / (static_cast<size_t>(threads) * 64));
    FirstRowError error;
    parallel_for(num_groups, chunk, threads, [&](size_t begin, size_t end) {
      thread_local Workspace workspace;
      for (size_t g = begin; g < end; ++g) {
        try {
          process_group(method, batch, layout, g, options, workspace, out, episode_out,
                        memory_call ? memory_call->stored(g) : nullptr);
        } catch (const RowError& e) {
          error.offer(e);  // the lowest row wins, whatever the thread count
          continue;
        }
        if (memory_call) memory_call->group_done(g, workspace.graph);
      }
    });
    error.rethrow();
  }
  if (memory_call) memory_call->commit(options.num_threads);
}

}  // namespace v0
}  // namespace graphgpo
