// Graph memory across calls (SPEC "Graph memory across calls"): per task, the distinct edges (u, v) between
// state fingerprints (v may be SUCCESS) seen in earlier calls, within bounds, saved to durable files.
//
// Contract
// - Per task (an int64 key; Python maps str keys to 64-bit hashes), distinct edges with the number of the
//   call that last saw them, the cost they were last seen with, and their order of first insertion over
//   the whole memory. Terminal nodes of failed trajectories without a next state are never stored.
// - A call (GraphMemory::Call) reads each group's task as the memory was before the call, then, only after
//   every advantage is computed, commit() stores every row's edge in row order (an edge seen again takes the
//   new call number and cost), and applies the bounds in SPEC's order: max_age, then max_edges_per_task,
//   then max_edges over all tasks, each dropping the least recently seen edges first (ties: earliest first
//   insertion first). Calls are numbered 1, 2, ... by successful calls (an empty batch is a call too).
// - A call that throws changes nothing: validation happens before any change, and commit() builds every
//   task's new contents before it swaps any in (the swaps and evictions cannot fail).
// - Thread safety: every operation takes the memory's mutex; concurrent calls on one memory run one after
//   the other (in an unspecified order), never interleaved.
// - Layout: per task a node table (16-byte fingerprints) and 24-byte edges (memory_view.hpp) kept in
//   eviction order, so the union with a call's graph reads two arrays and eviction pops from the front; a
//   global heap of each task's least recently seen edge orders evictions across tasks. Between calls every
//   task is compact (arrays at their exact size, only the nodes its edges use), so stats().bytes is a
//   function of the contents: a saved and loaded memory reports the same.
// - Files (save/load): a versioned little-endian format with a 128-bit checksum, written to a temporary
//   file in the same directory, fsync'ed, then renamed over the target (and the directory fsync'ed): a crash
//   leaves either the old file or the new one. load() raises Error(InvalidArgument) on a truncated, corrupt
//   or foreign file and IoError when the file cannot be read.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "graphgpo/batch.hpp"
#include "graphgpo/graph.hpp"
#include "graphgpo/hash_index.hpp"
#include "graphgpo/memory_view.hpp"
#include "graphgpo/options.hpp"

namespace graphgpo {
inline namespace v0 {

// -1 means unbounded. max_age: edges with (call - last seen) >= max_age are dropped after each call.
struct MemoryBounds {
  int64_t max_edges_per_task = -1;
  int64_t max_edges = -1;
  int64_t max_age = -1;
};

// {"max_edges_per_task": int|null, "max_edges": int|null, "max_age": int|null}; integers >= 0.
MemoryBounds parse_memory_options_json(const std::string& json);
void validate_memory_bounds(const MemoryBounds& bounds);

struct MemoryStats {
  uint64_t tasks = 0;  // tasks holding at least one edge
  uint64_t edges = 0;
  uint64_t bytes = 0;  // bytes the contents take (tasks, nodes, edges, index), arrays at their exact size
  uint64_t calls = 0;  // successful calls so far
};

// Memory's rules on a call: a graph-based method, distance="shortest", merge="exact". Throws
// Error(InvalidArgument) otherwise.
void check_memory_options(Method method, const Options& options);

// The task of each group (batch.task of its first row, or the group id without a task array), after
// checking that the task is constant within every group (the error names the first offending row).
std::vector<int64_t> group_tasks(const BatchView& batch, const BatchLayout& layout);

class GraphMemory {
 private:
  struct Staged;

 public:
  explicit GraphMemory(const MemoryBounds& bounds = MemoryBounds{});
  GraphMemory(const GraphMemory&) = delete;
  GraphMemory& operator=(const GraphMemory&) = delete;
  ~GraphMemory();

  const MemoryBounds& bounds() const { return bounds_; }
  MemoryStats stats() const;

  // The file format, in memory (save writes exactly these bytes). Canonical: equal memories give equal
  // bytes, whatever their history.
  std::string to_bytes() const;
  // `origin` names the source in error messages (a path, or "bytes").
  static std::unique_ptr<GraphMemory> from_bytes(const std::string& bytes, const std::string& origin = "bytes");
  void save(const std::string& path) const;
  static std::unique_ptr<GraphMemory> load(const std::string& path);

  // One estimator call on the memory. It holds the memory's lock from construction to destruction:
  //   Call call(memory, batch, layout);            // validates tasks, locks
  //   ... group g: build_group_graph(..., call.stored(g)); compute; call.group_done(g, graph);
  //   call.commit(num_threads);                    // only after every group succeeded
  // Without commit() the memory is unchanged.
  class Call {
   public:
    Call(GraphMemory& memory, const BatchView& batch, const BatchLayout& layout);
    ~Call();
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;
    // Group g's task's stored edges, as the memory was before the call.
    const StoredTaskView* stored(size_t g) const { return &views_[g]; }
    // Group g's graph (built with stored(g)) is complete. When g is its task's only group in the call, the
    // task's update is staged from the graph right away (no hashing: its node ids are known). Groups may
    // call this from different threads.
    void group_done(size_t g, const GroupGraph& graph);
    void commit(int num_threads);

   private:
    GraphMemory& memory_;
    std::unique_lock<std::mutex> lock_;
    const BatchView& batch_;
    const BatchLayout& layout_;
    std::vector<uint32_t> task_of_group_;  // index into the call's tasks
    std::vector<uint32_t> offsets_, groups_;  // groups of call task t: groups_[offsets_[t], offsets_[t+1])
    std::vector<StoredTaskView> views_;       // per group
    std::vector<Staged> staged_;              // per call task
    std::vector<uint8_t> is_new_;             // per row: the first row of an edge new to the memory
  };

  // The tasks holding edges, and one task's edges (inspection, tests). Both lock the memory; the view is
  // valid until the next call.
  std::vector<int64_t> task_keys() const;
  StoredTaskView task_view(int64_t task) const;

  // Testing only: start insertion numbers at `next` (>= every stored one), to exercise their renumbering.
  void set_next_insertion_for_testing(uint32_t next);

 private:
  static constexpr uint32_t kNotInHeap = UINT32_MAX;
  struct Task {
    int64_t key = 0;
    uint32_t head = 0;  // edges[0, head) were evicted; [head, size) are stored
    uint32_t heap_pos = kNotInHeap;
    std::vector<Fingerprint> nodes;  // may hold states no stored edge uses any more (until compaction)
    std::vector<StoredEdge> edges;   // least recently seen first (ties: earliest insertion first)
    size_t size() const { return edges.size() - head; }
  };
  // A task's contents after the call, built before anything changes: edges the call did not see (in their
  // order), then those it saw again (by first insertion), then new ones from edges[first_new] on, in row
  // order, whose insertion numbers are filled in at commit from new_rows (their first rows).
  struct Staged {
    uint32_t slot = 0;
    bool ready = false;  // staged by group_done
    std::vector<Fingerprint> nodes;
    std::vector<StoredEdge> edges;
    size_t first_new = 0;
    std::vector<size_t> new_rows;
  };

  StoredTaskView view_of(uint32_t slot) const;
  uint32_t slot_of(int64_t key) const;  // UINT32_MAX if absent
  uint32_t slot_for(int64_t key);       // adds an empty slot if absent
  void compact_slots();
  // The heap of tasks by their least recently seen edge (front_key: last seen, then insertion).
  void heap_push(uint32_t slot);
  void heap_remove(uint32_t slot);
  void heap_fix(uint32_t slot);
  void sift_up(size_t pos);
  void sift_down(size_t pos);
  uint64_t front_key(uint32_t slot) const;
  void pop_front(uint32_t slot);  // evicts one edge, keeps the heap in order
  void compact(uint32_t slot) noexcept;
  static uint64_t content_bytes(uint64_t tasks, uint64_t nodes, uint64_t edges);
  void renumber_insertions(std::vector<Staged>& staged);
  void apply_bounds(uint32_t call, const std::vector<Staged>& staged);

  MemoryBounds bounds_;
  mutable std::mutex mutex_;
  std::vector<Task> tasks_;
  IdIndex task_index_;           // key -> slot
  std::vector<uint32_t> heap_;   // slots of tasks with edges, min-heap by front_key
  std::vector<uint32_t> evicted_;  // tasks that lost edges in this call (compacted after the bounds)
  uint64_t total_edges_ = 0;
  uint64_t total_nodes_ = 0;
  uint64_t empty_slots_ = 0;
  uint32_t calls_ = 0;
  uint32_t next_insertion_ = 0;
};

}  // namespace v0
}  // namespace graphgpo
