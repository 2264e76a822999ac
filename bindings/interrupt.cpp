// Python runs signal handlers only on the main thread, and only between bytecodes: a thread inside a C++ call
// with the GIL released never gets to run them. So for a long call the engine moves to a helper thread and the
// calling (main) thread waits for it, waking every kPoll to run pending handlers (PyErr_CheckSignals, with the
// GIL). The handler's exception sets the engine's cancellation flag; the engine checks it between chunks of
// work (graphgpo/cancel.hpp) and unwinds; every engine thread has returned before the exception surfaces, and
// the helper thread's scratch memory goes with it.
#include "interrupt.hpp"

#include <pybind11/pybind11.h>
#include <pythread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

#include "graphgpo/cancel.hpp"

namespace py = pybind11;

namespace graphgpo_bindings {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(20);

bool on_main_thread() {
  static const unsigned long main_ident =
      py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  return PyThread_get_thread_ident() == main_ident;
}

}  // namespace

void run_interruptible(size_t work_size, const std::function<void()>& work) {
  if (work_size < kInterruptibleWork || !on_main_thread()) {
    py::gil_scoped_release release;
    work();
    return;
  }
  std::atomic<bool> cancel{false};
  std::exception_ptr error;
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  bool interrupted = false;  // a signal handler raised: its exception is set on this thread
  {
    py::gil_scoped_release release;
    std::thread runner;
    try {
      runner = std::thread([&] {
        try {
          const graphgpo::CancelScope scope(&cancel);
          work();
        } catch (...) {
          error = std::current_exception();
        }
        std::lock_guard<std::mutex> lock(mutex);
        done = true;
        finished.notify_one();
      });
    } catch (const std::system_error&) {  // no thread to spare: run here, not interruptible
      work();
      return;
    }
    std::unique_lock<std::mutex> lock(mutex);
    while (!finished.wait_for(lock, kPoll, [&] { return done; })) {
      if (interrupted) continue;  // cancelled: wait for the engine to unwind
      lock.unlock();
      {
        py::gil_scoped_acquire acquire;
        interrupted = PyErr_CheckSignals() != 0;
      }
      if (interrupted) cancel.store(true, std::memory_order_relaxed);
      lock.lock();
    }
    lock.unlock();
    runner.join();
  }
  if (interrupted) throw py::error_already_set();  // the handler's exception, whatever the engine did
  if (error) std::rethrow_exception(error);
}

}  // namespace graphgpo_bindings
