// A small fork-join helper. Work items are claimed dynamically, but every item writes only its own outputs,
// so results never depend on the number of threads or on scheduling.
#pragma once

#include <cstddef>
#include <functional>

namespace graphgpo {
inline namespace v0 {

// Threads used when a caller passes 0: GRAPHGPO_NUM_THREADS if set, else the hardware concurrency.
int default_num_threads();

// Resolve a requested thread count (<= 0 means default) against the amount of work.
int resolve_num_threads(int requested, size_t work_items);

// Run body(begin, end) over [0, n) in chunks of `chunk` items, on up to `num_threads` threads.
// Exceptions thrown by the body are rethrown on the calling thread (the first one wins).
// A thread the system refuses to start (a container's thread or memory limit) is not an error: the work
// runs on the threads that did start, at least the calling one, and gives the same result.
void parallel_for(size_t n, size_t chunk, int num_threads, const std::function<void(size_t, size_t)>& body);

}  // namespace v0
}  // namespace graphgpo
