#include "graphgpo/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace graphgpo {
inline namespace v0 {

int default_num_threads() {
  if (const char* env = std::getenv("GRAPHGPO_NUM_THREADS")) {
    const int value = std::atoi(env);
    if (value > 0) return value;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

int resolve_num_threads(int requested, size_t work_items) {
  const int wanted = requested > 0 ? requested : default_num_threads();
  // Spawning a thread costs tens of microseconds: not worth it for tiny batches.
  const size_t useful = std::max<size_t>(1, work_items);
  return static_cast<int>(std::min<size_t>(static_cast<size_t>(wanted), useful));
}

void parallel_for(size_t n, size_t chunk, int num_threads, const std::function<void(size_t, size_t)>& body) {
  if (n == 0) return;
  chunk = std::max<size_t>(1, chunk);
  const size_t chunks = (n + chunk - 1) / chunk;
  const size_t threads = std::min<size_t>(static_cast<size_t>(std::max(1, num_threads)), chunks);
  if (threads <= 1) {
    body(0, n);
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&]() {
    try {
      for (size_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
        body(c * chunk, std::min(n, (c + 1) * chunk));
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      next.store(chunks);  // stop handing out work
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace v0
}  // namespace graphgpo
