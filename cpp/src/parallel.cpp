#include "graphgpo/parallel.hpp"

#include <unistd.h>
#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace graphgpo {
inline namespace v0 {
namespace {

// Persistent workers: spawning threads per call cost more than the work on batches of tens of
// thousands of rows. One job runs at a time; a caller that finds the pool busy (another Python thread
// with the GIL released) spawns its own threads instead of waiting.
//
// Helpers join a job when they wake up, and only until the caller has finished its own share: the caller
// then closes the job and waits just for the helpers that joined. Waking a parked thread costs tens to
// hundreds of microseconds on a VM; a short job the caller completes alone must not wait for that. Jobs
// hand out work dynamically (parallel_for), so whoever runs a piece of it, the result is the same.
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

  // Runs `task` on the caller and on up to `helpers` workers (those that wake up before the caller's
  // `task` returns); returns when all that started it have returned. False if the pool is busy.
  bool try_run(size_t helpers, const std::function<void()>& task) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (workers_.size() < helpers && start_worker()) steered_off_cpu_ = -1;
      helpers = std::min(helpers, workers_.size());  // fewer if the system refused a thread
      keep_workers_off_this_cpu();
      task_ = &task;
      wanted_ = helpers;
      finished_.store(0, std::memory_order_relaxed);
      ++generation_;
      state_.store(job_tag(generation_), std::memory_order_release);  // open, nobody joined yet
      published_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    task();
    const uint64_t joined = state_.fetch_or(kClosed, std::memory_order_acq_rel) & kJoinedMask;
    // Joined helpers usually finish within microseconds of the caller: spin before sleeping.
    const auto all_done = [&] { return finished_.load(std::memory_order_acquire) == joined; };
    spin_until(all_done);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, all_done);
    task_ = nullptr;
    return true;
  }

 private:
  // state_: the job's generation (high 32 bits), a closed flag, and how many helpers joined it.
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kJoinedMask = kClosed - 1;
  static uint64_t job_tag(uint64_t generation) { return generation << 32; }

  WorkerPool() : pid_(getpid()) {}

  // Starts one more worker; false if the system refuses (thread or memory limits): the job then runs on
  // the workers there are.
  bool start_worker() {
    const size_t index = workers_.size();
    try {
      workers_.reserve(index + 1);
      auto worker = std::make_unique<std::thread>([this, index] { loop(index); });
      workers_.push_back(worker.release());  // cannot throw: capacity reserved above
      return true;
    } catch (const std::exception&) {  // std::system_error (EAGAIN) or std::bad_alloc
      return false;
    }
  }

  // Yield-spin until `ready()` or about 200 microseconds have passed (then the caller blocks instead).
  template <typename Ready>
  static void spin_until(Ready ready) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    while (!ready() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
  }

  // On KVM guests, Linux often wakes a thread on the waker's CPU while the other vCPUs are halted (they
  // count as preempted), so a woken worker waited for the caller to be descheduled: 0.2-1.5 ms, measured
  // on a 2-vCPU KVM machine, longer than a whole parallel section on 60K rows. Workers are therefore kept
  // off the caller's current CPU (within the caller's own affinity mask); re-done only when it moves.
  void keep_workers_off_this_cpu() {
#ifdef __linux__
    const int cpu = sched_getcpu();
    if (cpu < 0 || cpu == steered_off_cpu_ || workers_.empty()) return;
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
    if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed) || CPU_COUNT(&allowed) < 2) return;
    CPU_CLR(cpu, &allowed);
    for (std::thread* worker : workers_) pthread_setaffinity_np(worker->native_handle(), sizeof(allowed), &allowed);
    steered_off_cpu_ = cpu;
#endif
  }

  // Joins job `generation` unless it is closed (or already replaced by a newer one).
  bool try_join(uint64_t generation) {
    const uint64_t tag = job_tag(generation);
    uint64_t s = state_.load(std::memory_order_acquire);
    while ((s & ~kJoinedMask) == tag) {  // same job, not closed
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  }

  void loop(size_t index) {
#ifdef __linux__
    pthread_setname_np(pthread_self(), "graphgpo-worker");  // as shown by top -H, py-spy, gdb
#endif
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      if (generation_ == seen) {
        // One call runs several parallel sections back to back (fingerprints, validation, groups): spin
        // briefly before sleeping.
        lock.unlock();
        spin_until([&] { return published_.load(std::memory_order_acquire) != seen; });
        lock.lock();
      }
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (index >= wanted_) continue;
      const std::function<void()>* task = task_;
      lock.unlock();
      const bool joined = try_join(seen);
      if (joined) (*task)();
      lock.lock();
      if (joined) {
        finished_.fetch_add(1, std::memory_order_acq_rel);
        done_.notify_one();
      }
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
  std::atomic<uint64_t> state_{0};      // see job_tag / kClosed
  std::atomic<uint64_t> finished_{0};   // joined helpers that have returned
  size_t wanted_ = 0;
  int steered_off_cpu_ = -1;  // the CPU the workers are kept off (-1: none yet)
};

// The pool is busy (another caller holds it): start this call's own helpers, as many as the system allows
// (a thread it refuses is not an error: the caller and the helpers that did start share the work), run
// `task` on the caller too, and join every helper that started, whatever happens.
void run_on_own_threads(size_t helpers, const std::function<void()>& task) {
  std::vector<std::thread> started;
  try {
    started.reserve(helpers);
    for (size_t t = 0; t < helpers; ++t) started.emplace_back(task);
  } catch (const std::exception&) {  // std::system_error (EAGAIN) or std::bad_alloc: fewer helpers
  }
  task();  // never throws: parallel_for's task catches everything
  for (std::thread& thread : started) thread.join();
}

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
  if (!WorkerPool::instance().try_run(threads - 1, worker)) run_on_own_threads(threads - 1, worker);
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace v0
}  // namespace graphgpo
