// Engine-only timing without Python: synthetic integer-state batch, grpo / gigpo / graphgpo, 1..N threads.
//   cmake -S . -B build/bench -DGRAPHGPO_BENCHMARKS=ON && cmake --build build/bench --target engine_bench
//   build/bench/benchmarks/cpp/engine_bench [rows=1000000] [repeats=7] [idle_us=0] [flush_mb=0]
// idle_us sleeps between calls, as a training loop does between batches (worker threads park meanwhile);
// flush_mb walks that many MiB before each call, as Python's gc.collect() does, so caches start cold.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "graphgpo/batch.hpp"
#include "graphgpo/estimators.hpp"
#include "graphgpo/fingerprint.hpp"

using namespace graphgpo;

int main(int argc, char** argv) {
  const size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 7;
  const int idle_us = argc > 3 ? std::atoi(argv[3]) : 0;
  const size_t flush_bytes = (argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 0) << 20;
  std::vector<uint64_t> flush(flush_bytes / sizeof(uint64_t));
  uint64_t flush_sum = 0;
  const auto between_calls = [&] {
    if (idle_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(idle_us));
    for (uint64_t& word : flush) flush_sum += ++word;
  };
  const size_t rollouts = 16, horizon = 50;
  std::mt19937_64 rng(7);
  std::vector<int64_t> group(rows), trajectory(rows), states(rows);
  std::vector<uint8_t> success(rows);
  for (size_t i = 0; i < rows; ++i) {
    const size_t t = i / horizon, g = t / rollouts;
    group[i] = static_cast<int64_t>(g);
    trajectory[i] = static_cast<int64_t>(t);
    states[i] = static_cast<int64_t>(g * 1000 + rng() % 60);
  }
  for (size_t t = 0; t * horizon < rows; ++t) {
    const uint8_t ok = (rng() % 2) != 0;
    for (size_t i = t * horizon; i < std::min(rows, (t + 1) * horizon); ++i) success[i] = ok;
  }
  std::vector<Fingerprint> fp(rows);
  fingerprint_int64_batch(states.data(), rows, fp.data(), 1);
  BatchView b;
  b.n = rows;
  b.group = group.data();
  b.trajectory = trajectory.data();
  b.state = fp.data();
  b.success = success.data();
  std::vector<double> out(rows);
  // Best wall time of `repeats` calls, each after between_calls(); one printed line per (step, threads).
  const auto best_seconds = [&](const auto& call) {
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
      between_calls();
      const auto t0 = std::chrono::steady_clock::now();
      call();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
  };
  const auto report = [&](const char* step, int threads, double seconds, double one_thread_seconds) {
    std::printf("%-9s threads=%d  %8.2f ms  %6.1f ns/row  speedup %.2fx\n", step, threads, seconds * 1e3,
                seconds * 1e9 / static_cast<double>(rows), one_thread_seconds / seconds);
  };
  // Validation and trajectory layout alone: the part of every call that is partly serial.
  double base = 0;
  for (int threads : {1, 2}) {
    const double best = best_seconds([&] {
      if (validate_and_layout(b, false, threads).num_groups() == 0) std::abort();
    });
    if (threads == 1) base = best;
    report("layout", threads, best, base);
  }
  for (const EstimatorSpec& e : estimator_registry()) {
    const Method m = e.method;
    for (int threads : {1, 2}) {
      Options o;
      o.num_threads = threads;
      const double best = best_seconds([&] { compute_advantages_into(m, b, o, out.data()); });
      if (threads == 1) base = best;
      report(method_name(m), threads, best, base);
    }
  }
  if (flush_sum == 42) std::printf("\n");  // keeps the flush loop
  return 0;
}
