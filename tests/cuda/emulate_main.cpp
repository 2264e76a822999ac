// Host emulation of the CUDA pipeline, for testing the device algorithm on machines without a GPU.
//
// It compiles pipeline.cuh and hd.cuh with an ordinary C++ compiler against a backend whose "kernels" are
// loops (visited in a scrambled order, so a kernel that silently depends on thread order shows up), whose
// per-group kernels run on a block of real threads (GRAPHGPO_EMULATE_BLOCK_THREADS, default 3) meeting at
// the same barriers as on the device, and whose radix sort is std::stable_sort (checking that every key
// fits the bit width the pipeline asked for). tests/test_cuda.py builds it and compares it with the CPU
// engine.
// It is not part of the library.
//
// Usage:
//   emulate advantages DIR   DIR/meta.txt = "method\nn\noptions_json\n"; DIR/<field>.bin raw arrays
//                            (group, trajectory, state, next_state, success, valid, reward, cost, action;
//                            optional ones may be missing). Writes DIR/out.bin (n doubles) and, for
//                            graphgpo, DIR/dnext.bin (the distance of each row's next node).
//   emulate rows DIR         DIR/meta.txt = "n\nrow_bytes\nelement_bytes\n"; DIR/data.bin (n rows of
//                            row_bytes), optional DIR/lengths.bin (int64 element counts). Writes fp.bin.
//   emulate int64 DIR        DIR/meta.txt = "n\n"; DIR/values.bin. Writes fp.bin.
// Errors: the message on stderr, exit status 3 for graphgpo::Error.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pipeline.cuh"

namespace gi = graphgpo::cuda_impl;

namespace {

// A reusable barrier for the threads of one emulated block.
class Barrier {
 public:
  explicit Barrier(unsigned count) : count_(count) {}
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const unsigned long generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != generation; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  unsigned count_;
  unsigned arrived_ = 0;
  unsigned long generation_ = 0;
};

// State shared by the threads of one emulated block (the device's shared memory).
struct BlockShared {
  explicit BlockShared(unsigned threads) : barrier(threads) {}
  Barrier barrier;
  std::mutex mutex;
  unsigned contributed = 0;
  double accumulator = 0;
};

// One thread of a block: like DeviceBlock, with real threads and barriers, so the per-group kernels run
// with several threads striding over the nodes and meeting at every barrier the device would.
struct HostBlock {
  unsigned thread = 0;
  unsigned threads = 1;
  BlockShared* shared = nullptr;
  unsigned tid() const { return thread; }
  unsigned size() const { return threads; }
  void sync() const { shared->barrier.wait(); }
  bool any(bool p) const { return reduce(p ? 1.0 : 0.0) != 0.0; }
  double max(double x) const { return reduce(x); }
  double reduce(double x) const {  // block-wide maximum, every thread gets it
    sync();  // the previous reduction is complete everywhere
    {
      std::lock_guard<std::mutex> lock(shared->mutex);
      shared->accumulator = shared->contributed++ == 0 ? x : gi::max_of(shared->accumulator, x);
    }
    sync();
    const double result = shared->accumulator;
    sync();
    if (thread == 0) shared->contributed = 0;
    return result;
  }
};

unsigned block_threads() {
  const char* env = std::getenv("GRAPHGPO_EMULATE_BLOCK_THREADS");
  const int value = env ? std::atoi(env) : 3;
  return value > 0 ? static_cast<unsigned>(value) : 1u;
}

// Visits 0..n-1 in a scrambled but complete order.
template <class F>
void scrambled(uint32_t n, F f) {
  if (n == 0) return;
  uint32_t step = 1;
  for (uint32_t c : {7919u, 104729u, 1299709u, 15485863u})
    if (std::gcd(c, n) == 1) {
      step = c % n == 0 ? 1 : c;
      break;
    }
  uint64_t i = n / 3;
  for (uint32_t count = 0; count < n; ++count) {
    f(static_cast<uint32_t>(i % n));
    i = (i + step) % n;
  }
}

struct HostBackend {
  using Block = HostBlock;
  template <class F>
  void for_each(uint32_t n, F f) {
    scrambled(n, f);
  }
  template <class F>
  void for_each_counted(const uint32_t* count, uint32_t bound, F f) {
    if (*count > bound) die("for_each_counted: count above its bound");
    scrambled(*count, f);
  }
  // One block (of block_threads() threads) walks every group, as a device block walks its share.
  template <class F>
  void per_group(uint32_t groups, F f) {
    const unsigned threads = block_threads();
    BlockShared shared(threads);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const HostBlock block{t, threads, &shared};
        scrambled(groups, [&](uint32_t g) { f(block, g); });
      });
    for (auto& thread : pool) thread.join();
  }
  void sort_pairs(const uint64_t* kin, uint64_t* kout, const uint32_t* vin, uint32_t* vout, uint32_t n, int bits) {
    if (bits < 1 || bits > 64) die("sort_pairs: bad bit count");
    std::vector<uint32_t> order(n);
    for (uint32_t i = 0; i < n; ++i) {
      if (bits < 64 && (kin[i] >> bits) != 0) die("sort_pairs: a key does not fit in " + std::to_string(bits) + " bits");
      order[i] = i;
    }
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return kin[a] < kin[b]; });
    std::vector<uint64_t> keys(n);
    std::vector<uint32_t> values(n);
    for (uint32_t i = 0; i < n; ++i) {
      keys[i] = kin[order[i]];
      values[i] = vin[order[i]];
    }
    std::copy(keys.begin(), keys.end(), kout);
    std::copy(values.begin(), values.end(), vout);
  }
  void exclusive_sum(const uint32_t* in, uint32_t* out, uint32_t n) {
    uint32_t running = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t x = in[i];
      out[i] = running;
      running += x;
    }
  }
  void fill(void* p, int byte, size_t bytes) { std::memset(p, byte, bytes); }
  void to_host_async(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
  void to_device(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
  void synchronize() {}
  [[noreturn]] static void die(const std::string& what) {
    std::cerr << "emulation check failed: " << what << "\n";
    std::exit(4);
  }
};

template <class T>
std::vector<T> read_array(const std::string& path, bool required) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (required) HostBackend::die("missing " + path);
    return {};
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

template <class T>
void write_array(const std::string& path, const std::vector<T>& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

template <class T>
const T* data_or_null(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

int run_advantages(const std::string& dir) {
  const auto meta = read_lines(dir + "/meta.txt");
  if (meta.size() < 3) HostBackend::die("meta.txt needs method, n, options");
  const graphgpo::Method method = graphgpo::parse_method(meta[0]);
  const size_t n = std::stoull(meta[1]);
  const graphgpo::Options options = graphgpo::parse_options_json(meta[2]);
  const auto group = read_array<int64_t>(dir + "/group.bin", n > 0);
  const auto trajectory = read_array<int64_t>(dir + "/trajectory.bin", n > 0);
  const auto state = read_array<graphgpo::Fingerprint>(dir + "/state.bin", n > 0);
  const auto next_state = read_array<graphgpo::Fingerprint>(dir + "/next_state.bin", false);
  const auto success = read_array<uint8_t>(dir + "/success.bin", n > 0);
  const auto valid = read_array<uint8_t>(dir + "/valid.bin", false);
  const auto reward = read_array<double>(dir + "/reward.bin", false);
  const auto cost = read_array<double>(dir + "/cost.bin", false);
  const auto action = read_array<int64_t>(dir + "/action.bin", false);
  graphgpo::cuda::DeviceBatch b;
  b.n = n;
  b.group = data_or_null(group);
  b.trajectory = data_or_null(trajectory);
  b.state = data_or_null(state);
  b.next_state = data_or_null(next_state);
  b.success = data_or_null(success);
  b.valid = data_or_null(valid);
  b.reward = data_or_null(reward);
  b.cost = data_or_null(cost);
  b.action = data_or_null(action);

  gi::check_batch(method, b, options);
  std::vector<double> out(n, 0.0);
  if (n > 0) {
    const gi::Shape shape = gi::shape_of(method, n, options);
    gi::Work w;
    const size_t bytes = gi::carve(nullptr, shape, 0, w);
    // Poison the scratch: the pipeline must not read anything it did not write.
    std::vector<char> arena(bytes + 256, static_cast<char>(0xa5));
    char* base = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(arena.data()) + 255) & ~uintptr_t(255));
    gi::carve(base, shape, 0, w);
    HostBackend be;
    std::vector<double> result(n, std::nan(""));
    std::vector<double> dnext(n, std::nan(""));
    const bool graph = graphgpo::estimator(method).reads("distance");  // has d(next_state)
    gi::run_pipeline(be, method, b, options, result.data(), w, graph ? dnext.data() : nullptr);
    out = result;
    if (graph) write_array(dir + "/dnext.bin", dnext);
  }
  write_array(dir + "/out.bin", out);
  return 0;
}

int run_rows(const std::string& dir) {
  const auto meta = read_lines(dir + "/meta.txt");
  const size_t n = std::stoull(meta.at(0));
  const size_t row_bytes = std::stoull(meta.at(1));
  const size_t element_bytes = std::stoull(meta.at(2));
  const auto data = read_array<uint8_t>(dir + "/data.bin", n > 0);
  const auto lengths = read_array<int64_t>(dir + "/lengths.bin", false);
  std::vector<graphgpo::Fingerprint> out(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t size = lengths.empty() ? row_bytes : static_cast<uint64_t>(lengths[i]) * element_bytes;
    const gi::Fp f = gi::fingerprint_bytes(data.data() + i * row_bytes, size, gi::kDomainArrayRow);
    out[i] = {f.lo, f.hi};
  }
  write_array(dir + "/fp.bin", out);
  return 0;
}

int run_int64(const std::string& dir) {
  const auto meta = read_lines(dir + "/meta.txt");
  const size_t n = std::stoull(meta.at(0));
  const auto values = read_array<int64_t>(dir + "/values.bin", n > 0);
  std::vector<graphgpo::Fingerprint> out(n);
  for (size_t i = 0; i < n; ++i) {
    const gi::Fp f = gi::fingerprint_int64(values[i]);
    out[i] = {f.lo, f.hi};
  }
  write_array(dir + "/fp.bin", out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: emulate advantages|rows|int64 DIR\n";
    return 2;
  }
  const std::string mode = argv[1];
  try {
    if (mode == "advantages") return run_advantages(argv[2]);
    if (mode == "rows") return run_rows(argv[2]);
    if (mode == "int64") return run_int64(argv[2]);
  } catch (const graphgpo::Error& e) {
    std::cerr << e.what() << "\n";
    return 3;
  }
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}
