// Cooperative cancellation of a long engine call (Ctrl-C in Python).
//
// A caller that can be interrupted (the Python module, while it waits with the GIL released) owns a
// std::atomic<bool> and installs it with CancelScope on the thread that runs the call; parallel_for hands it
// to every helper thread for the duration of the job. The engine calls throw_if_cancelled() at points where
// stopping leaves nothing behind (between groups, between stages of a group, between sweeps), never while a
// graph memory commits. A cancelled call throws Cancelled: outputs are then garbage like on any error, and
// no thread keeps running (parallel_for returns only when every helper has returned).
// Without a scope (the C ABI, C++ callers) nothing is ever cancelled and a check is one thread-local load.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>

namespace graphgpo {
inline namespace v0 {

// Thrown by throw_if_cancelled(); deliberately not a graphgpo::Error (no status code: only the caller that
// set the flag sees it, and it knows why).
class Cancelled : public std::exception {
 public:
  const char* what() const noexcept override { return "graphgpo: call cancelled"; }
};

// The flag this thread checks (nullptr: none).
const std::atomic<bool>* current_cancel_flag() noexcept;

// Installs `flag` as this thread's cancellation flag until destroyed (restores the previous one).
class CancelScope {
 public:
  explicit CancelScope(const std::atomic<bool>* flag) noexcept;
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  const std::atomic<bool>* previous_;
};

// Throws Cancelled when this thread's flag is set.
inline void throw_if_cancelled() {
  const std::atomic<bool>* flag = current_cancel_flag();
  if (flag && flag->load(std::memory_order_relaxed)) throw Cancelled();
}

// For long loops: checks once every 2^16 calls of tick(), so the loop pays one increment per iteration.
class CancelPoll {
 public:
  void tick() {
    if ((++count_ & 0xFFFF) == 0) throw_if_cancelled();
  }

 private:
  size_t count_ = 0;
};

}  // namespace v0
}  // namespace graphgpo
