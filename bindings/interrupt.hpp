// Ctrl-C during a long engine call (see interrupt.cpp).
#pragma once

#include <cstddef>
#include <functional>

namespace graphgpo_bindings {

// Runs `work` with the GIL released (called with the GIL held). On the main thread, for work of at least
// `kInterruptibleWork` (about rows), `work` runs on a helper thread while the caller checks Python's
// signals every ~20 ms; a handler that raises (KeyboardInterrupt) cancels the engine (graphgpo/cancel.hpp),
// which stops at its next check, and that exception is raised once every engine thread has returned.
// Exceptions of `work` are rethrown otherwise. Smaller work, other threads (whose signal handlers Python
// never runs), or a system that refuses the helper thread: `work` runs here, not interruptible.
void run_interruptible(size_t work_size, const std::function<void()>& work);

inline constexpr size_t kInterruptibleWork = size_t{1} << 15;

}  // namespace graphgpo_bindings
