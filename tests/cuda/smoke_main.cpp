// graphgpo_cuda_smoke: the CUDA path against the CPU engine from C++, no Python needed.
//
// Built with the CUDA kernels (-DGRAPHGPO_CUDA=ON, not in Python wheels): build/<dir>/cpp/graphgpo_cuda_smoke.
// Without a CUDA device it prints "SKIP: ..." and exits 77 (the usual "skipped" status of test drivers: never
// mistaken for a pass; CI only compiles and links it). With one it runs random
// rollout-like batches (several seeds, every method, option mix and optional field) through
// graphgpo::cuda::compute_advantages and graphgpo::compute_advantages and requires bit-identical results,
// checks next_state_distances against the CPU graphs, checks the device fingerprints, then times one large
// batch (rows from argv[1], default 1,000,000). Exit status 1 on any mismatch.
#include <cuda_runtime.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "graphgpo/cuda.hpp"
#include "graphgpo/error.hpp"
#include "graphgpo/estimators.hpp"
#include "graphgpo/graph_batch.hpp"

namespace {

constexpr int kSkipped = 77;  // nothing ran: distinct from a pass (0) and a mismatch (1)

using graphgpo::Fingerprint;

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(status));
    std::exit(2);
  }
}

struct HostBatch {
  std::vector<int64_t> group, trajectory, action;
  std::vector<Fingerprint> state, next_state;
  std::vector<uint8_t> success, valid;
  std::vector<double> reward, cost;
  bool use_next = false, use_valid = true, use_reward = false, use_cost = false, use_action = true;
  size_t n() const { return group.size(); }
  graphgpo::BatchView view() const {
    graphgpo::BatchView b;
    b.n = n();
    b.group = group.data();
    b.trajectory = trajectory.data();
    b.state = state.data();
    b.next_state = use_next ? next_state.data() : nullptr;
    b.success = success.data();
    b.valid = use_valid ? valid.data() : nullptr;
    b.reward = use_reward ? reward.data() : nullptr;
    b.cost = use_cost ? cost.data() : nullptr;
    b.action = use_action ? action.data() : nullptr;
    return b;
  }
};

// Groups of random walks on a small state space per group (states repeat, trajectories meet).
HostBatch make_batch(uint64_t seed, size_t groups, size_t rollouts, size_t max_steps, int64_t states_per_group) {
  std::mt19937_64 rng(seed);
  HostBatch b;
  b.use_next = rng() % 2;
  b.use_reward = rng() % 3 == 0;
  b.use_cost = rng() % 3 == 0;
  int64_t traj = 0;
  for (size_t g = 0; g < groups; ++g) {
    const int64_t group_id = static_cast<int64_t>(rng() % 1000000) * 1000 + static_cast<int64_t>(g);
    for (size_t r = 0; r < rollouts; ++r, ++traj) {
      const size_t steps = 1 + rng() % max_steps;
      const bool ok = rng() % 2;
      int64_t s = static_cast<int64_t>(g) * 1000003;
      for (size_t k = 0; k < steps; ++k) {
        const int64_t next = static_cast<int64_t>(g) * 1000003 + static_cast<int64_t>(rng() % states_per_group);
        b.group.push_back(group_id);
        b.trajectory.push_back(traj);
        b.state.push_back(graphgpo::fingerprint_int64(s));
        b.next_state.push_back(graphgpo::fingerprint_int64(next));
        b.success.push_back(ok ? 1 : 0);
        b.valid.push_back(rng() % 10 != 0);
        b.reward.push_back(static_cast<double>(rng() % 1000) / 250.0 - 1.0);
        b.cost.push_back(0.25 + static_cast<double>(rng() % 1000) / 400.0);
        b.action.push_back(static_cast<int64_t>(rng() % 3));
        s = next;
      }
    }
  }
  return b;
}

template <class T>
T* upload(const std::vector<T>& v, bool use = true) {
  if (!use || v.empty()) return nullptr;
  T* p = nullptr;
  check(cudaMalloc(&p, v.size() * sizeof(T)), "cudaMalloc");
  check(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  return p;
}

struct DeviceCopy {
  graphgpo::cuda::DeviceBatch batch;
  std::vector<void*> owned;
  explicit DeviceCopy(const HostBatch& h) {
    batch.n = h.n();
    batch.group = keep(upload(h.group));
    batch.trajectory = keep(upload(h.trajectory));
    batch.state = keep(upload(h.state));
    batch.next_state = keep(upload(h.next_state, h.use_next));
    batch.success = keep(upload(h.success));
    batch.valid = keep(upload(h.valid, h.use_valid));
    batch.reward = keep(upload(h.reward, h.use_reward));
    batch.cost = keep(upload(h.cost, h.use_cost));
    batch.action = keep(upload(h.action, h.use_action));
  }
  template <class T>
  T* keep(T* p) {
    if (p) owned.push_back(p);
    return p;
  }
  ~DeviceCopy() {
    for (void* p : owned) cudaFree(p);
  }
};

std::vector<double> on_device(graphgpo::Method method, const DeviceCopy& d, const graphgpo::Options& o,
                              bool distances = false) {
  double* out = nullptr;
  check(cudaMalloc(&out, d.batch.n * sizeof(double)), "cudaMalloc");
  if (distances) {
    graphgpo::cuda::next_state_distances(d.batch, o, out);
  } else {
    graphgpo::cuda::compute_advantages(method, d.batch, o, out);
  }
  std::vector<double> host(d.batch.n);
  check(cudaMemcpy(host.data(), out, host.size() * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy");
  cudaFree(out);
  return host;
}

std::vector<double> cpu_next_distances(const HostBatch& h, const graphgpo::Options& o) {
  const graphgpo::GraphBatch graphs = graphgpo::build_graph_batch(h.view(), o);
  std::vector<double> out(h.n());
  for (size_t g = 0; g < graphs.graphs.size(); ++g) {
    const auto& graph = graphs.graphs[g];
    for (size_t e = 0; e < graph.edge_row.size(); ++e)
      out[static_cast<size_t>(graph.edge_row[e])] = graphs.distances[g][static_cast<size_t>(graph.edge_dst[e])];
  }
  return out;
}

int failures = 0;

void compare(const char* what, const std::vector<double>& cpu, const std::vector<double>& gpu) {
  double worst = 0;
  size_t differing = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (std::memcmp(&cpu[i], &gpu[i], sizeof(double)) != 0) ++differing;
    const double d = cpu[i] > gpu[i] ? cpu[i] - gpu[i] : gpu[i] - cpu[i];
    if (d > worst || d != d) worst = d;
  }
  if (differing) {
    ++failures;
    std::printf("MISMATCH %s: %zu of %zu rows differ, max |diff| %.3g\n", what, differing, cpu.size(), worst);
  }
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t big_rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  std::printf("graphgpo %s, CUDA compiled: %s, devices: %d\n", graphgpo::version_string(),
              graphgpo::cuda::compiled() ? "yes" : "no", graphgpo::cuda::device_count());
  if (!graphgpo::cuda::compiled() || graphgpo::cuda::device_count() == 0) {
    std::printf("SKIP: no CUDA device (nothing was compared)\n");
    return kSkipped;
  }
  const char* option_sets[] = {
      "{}",
      "{\"omega\": 0.5, \"norm\": \"mean\"}",
      "{\"convention\": \"paper\", \"episode_stats\": \"per_trajectory\"}",
      "{\"normalize_distance\": true, \"gamma\": 0.5, \"eps\": 0}",
      "{\"distance\": \"expected\", \"omega\": 0.8}",
  };
  int cases = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const HostBatch h = make_batch(seed, 1 + seed % 7, 1 + seed % 9, 1 + seed % 13, 2 + static_cast<int64_t>(seed % 6));
    const DeviceCopy d(h);
    for (const char* json : option_sets) {
      const graphgpo::Options o = graphgpo::parse_options_json(json);
      for (const graphgpo::EstimatorSpec& e : graphgpo::estimator_registry()) {
        if (!e.supports_cuda) continue;
        const graphgpo::Method m = e.method;
        const std::string what = "seed " + std::to_string(seed) + " " + graphgpo::method_name(m) + " " + json;
        compare(what.c_str(), graphgpo::compute_advantages(m, h.view(), o), on_device(m, d, o));
        ++cases;
      }
      const std::string what = "seed " + std::to_string(seed) + " distances " + json;
      compare(what.c_str(), cpu_next_distances(h, o), on_device(graphgpo::Method::GraphGpo, d, o, true));
    }
  }
  // Fingerprints of token rows (ragged) and int64 values.
  {
    std::mt19937_64 rng(7);
    const size_t rows = 1000, width = 37;
    std::vector<int64_t> tokens(rows * width), lengths(rows);
    for (auto& t : tokens) t = static_cast<int64_t>(rng() % 50000);
    for (auto& l : lengths) l = static_cast<int64_t>(rng() % (width + 1));
    int64_t* dt = upload(tokens);
    int64_t* dl = upload(lengths);
    Fingerprint* dout = nullptr;
    check(cudaMalloc(&dout, rows * sizeof(Fingerprint)), "cudaMalloc");
    graphgpo::cuda::fingerprint_token_rows(dt, dl, rows, width, width, dout);
    std::vector<Fingerprint> got(rows);
    check(cudaMemcpy(got.data(), dout, rows * sizeof(Fingerprint), cudaMemcpyDeviceToHost), "cudaMemcpy");
    size_t bad = 0;
    for (size_t i = 0; i < rows; ++i) {
      const Fingerprint want = graphgpo::fingerprint_bytes(tokens.data() + i * width,
                                                           static_cast<size_t>(lengths[i]) * sizeof(int64_t),
                                                           graphgpo::FingerprintDomain::ArrayRow);
      bad += want != got[i];
    }
    graphgpo::cuda::fingerprint_int64(dt, rows, dout);
    check(cudaMemcpy(got.data(), dout, rows * sizeof(Fingerprint), cudaMemcpyDeviceToHost), "cudaMemcpy");
    for (size_t i = 0; i < rows; ++i) bad += graphgpo::fingerprint_int64(tokens[i]) != got[i];
    if (bad) {
      ++failures;
      std::printf("MISMATCH fingerprints: %zu\n", bad);
    }
    cudaFree(dt);
    cudaFree(dl);
    cudaFree(dout);
  }
  std::printf("%d advantage comparisons (+ distances, fingerprints): %s\n", cases, failures ? "FAILED" : "all bit-identical");

  // One large batch: wall time of the CPU engine (all threads) and of the device (data already there).
  const size_t groups = big_rows / (16 * 25) + 1;
  HostBatch big = make_batch(12345, groups, 16, 50, 32);
  big.use_next = false;
  big.use_reward = false;
  big.use_cost = false;
  const DeviceCopy d(big);
  const graphgpo::Options o;
  for (const graphgpo::EstimatorSpec& e : graphgpo::estimator_registry()) {
    if (!e.supports_cuda) continue;
    const graphgpo::Method m = e.method;
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<double> cpu = graphgpo::compute_advantages(m, big.view(), o);
    const double cpu_s = seconds_since(t0);
    on_device(m, d, o);  // warm-up
    t0 = std::chrono::steady_clock::now();
    const std::vector<double> gpu = on_device(m, d, o);
    const double gpu_s = seconds_since(t0);
    compare(graphgpo::method_name(m), cpu, gpu);
    std::printf("%zu rows, %s: CPU %.4f s, GPU %.4f s (incl. result copy)\n", big.n(), graphgpo::method_name(m), cpu_s,
                gpu_s);
  }
  return failures ? 1 : 0;
}
