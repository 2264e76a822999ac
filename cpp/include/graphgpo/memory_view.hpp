// What a GraphMemory holds for one task, in the form the graph builder reads it (SPEC "Graph memory across
// calls"). The memory itself (memory.hpp) owns these arrays; a view is valid while the memory is locked.
#pragma once

#include <cstddef>
#include <cstdint>

#include "graphgpo/fingerprint.hpp"

namespace graphgpo {
inline namespace v0 {

// The target of an edge into SUCCESS (SUCCESS has no entry in a task's node table).
constexpr uint32_t kStoredSuccess = UINT32_MAX;

// One distinct edge (u, v) of a task: endpoints index the task's node table, `last_seen` is the number of
// the call that last saw it, `cost` the cost it was last seen with, `insertion` its order of first
// insertion over the whole memory (smaller = earlier). 24 bytes, no padding (saved files copy it as is).
struct StoredEdge {
  uint32_t src;
  uint32_t dst;  // kStoredSuccess for SUCCESS
  uint32_t last_seen;
  uint32_t insertion;
  double cost;
};
static_assert(sizeof(StoredEdge) == 24, "StoredEdge must stay 24 bytes without padding");

// A task's edges, least recently seen first (ties: earliest insertion first). Empty for an unknown task.
struct StoredTaskView {
  const Fingerprint* nodes = nullptr;
  size_t num_nodes = 0;
  const StoredEdge* edges = nullptr;
  size_t num_edges = 0;
};

}  // namespace v0
}  // namespace graphgpo
