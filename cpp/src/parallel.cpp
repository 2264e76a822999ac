#include "graphgpo/parallel.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace graphgpo {
inline namespace v0 {
namespace {

// Persistent workers: spawning threads per call cost more than the work on batches of tens of
// thousands of rows. One job runs at a time; a caller that finds the pool busy (another Python thread
// with the GIL released) spawns its own threads instead of waiting.
class WorkerPool {
 public:
  // The pool of this process. After a fork the child gets a fresh pool: the parent's workers do not
  // exist there (the old pool is deliberately leaked, its mutexes may be held).
  static WorkerPool& instance() {
    static std::atomic<WorkerPool*> pool{nullptr};
    WorkerPool* current = pool.load();
    if (current == nullptr || current->pid_ != getpid()) {
      static std::mutex create_mutex;
      std::lock_guard<std::mutex> lock(create_mutex);
      current = pool.load();
      if (current == nullptr || current->pid_ != getpid()) {
        current = new WorkerPool();
        pool.store(current);
      }
    }
    return *current;
  }

  // Runs `task` on the caller and on `helpers` workers; returns when all have returned. False if the
  // pool is busy (nothing ran).
  bool try_run(size_t helpers, const std::function<void()>& task) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (workers_.size() < helpers) {
        const size_t index = workers_.size();
        workers_.push_back(new std::thread([this, index] { loop(index); }));
      }
      task_ = &task;
      wanted_ = helpers;
      finished_ = 0;
      ++generation_;
      published_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    task();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return finished_ == wanted_; });
    task_ = nullptr;
    return true;
  }

 private:
  WorkerPool() : pid_(getpid()) {}

  void loop(size_t index) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      if (generation_ == seen) {
        // One call runs several parallel sections back to back (fingerprints, validation, groups): spin
        // briefly before sleeping, since waking a sleeping thread costs tens of microseconds.
        lock.unlock();
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
        while (published_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < give_up) {
          std::this_thread::yield();
        }
        lock.lock();
      }
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (index >= wanted_) continue;
      const std::function<void()>* task = task_;
      lock.unlock();
      (*task)();
      lock.lock();
      if (++finished_ == wanted_) done_.notify_one();
    }
  }

  const pid_t pid_;
  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread*> workers_;  // never joined: they live as long as the process
  const std::function<void()>* task_ = nullptr;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> published_{0};  // generation_, readable without the mutex (for spinning)
  size_t wanted_ = 0;
  size_t finished_ = 0;
};

}  // namespace

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
  // A thread is only worth it with a work item for it.
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
  const std::function<void()> worker = [&]() {
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
  if (!WorkerPool::instance().try_run(threads - 1, worker)) {
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace v0
}  // namespace graphgpo
