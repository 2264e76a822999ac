#include "graphgpo/memory.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>
#include <utility>

#include "graphgpo/error.hpp"
#include "graphgpo/parallel.hpp"

namespace graphgpo {
inline namespace v0 {

// ---------------------------------------------------------------------------------------------------------
// Options and call rules.

namespace {

int64_t bound_value(const std::string& key, const JsonScalar& v) {
  if (v.kind == JsonScalar::Null) return -1;
  const double x = v.number;
  if (v.kind != JsonScalar::Number || !(x >= 0.0 && x <= 9.0e18) || x != std::floor(x))
    fail("memory option '" + key + "' must be null or an integer >= 0");
  return static_cast<int64_t>(x);
}

[[noreturn]] void row_error(size_t row, const std::string& what) {
  std::ostringstream msg;
  msg << "row " << row << ": " << what;
  fail(msg.str());
}

}  // namespace

void validate_memory_bounds(const MemoryBounds& b) {
  if (b.max_edges_per_task < -1 || b.max_edges < -1 || b.max_age < -1)
    fail("memory bounds must be None (unbounded) or integers >= 0");
}

MemoryBounds parse_memory_options_json(const std::string& json) {
  MemoryBounds b;
  read_flat_json(json, [&](const std::string& key, const JsonScalar& v) {
    if (key == "max_edges_per_task") b.max_edges_per_task = bound_value(key, v);
    else if (key == "max_edges") b.max_edges = bound_value(key, v);
    else if (key == "max_age") b.max_age = bound_value(key, v);
    else fail("unknown memory option '" + key + "': expected one of max_edges_per_task, max_edges, max_age");
  });
  return b;
}

void check_memory_options(Method method, const Options& options) {
  if (!estimator(method).supports_memory) {
    std::string expected;  // the registry's methods with supports_memory
    for (const EstimatorSpec& e : estimator_registry())
      if (e.supports_memory) expected += (expected.empty() ? "'" : "' or '") + std::string(e.name);
    fail("memory needs a graph-based method (" + expected + "'), got '" + method_name(method) + "'");
  }
  if (options.distance != DistanceKind::Shortest)
    fail("memory needs distance='shortest' (stored edges keep no actions for distance='expected')");
  if (options.merge != Merge::Exact)
    fail("memory needs merge='exact' (it stores edges between exact states, across calls)");
}

std::vector<int64_t> group_tasks(const BatchView& b, const BatchLayout& layout) {
  const size_t num_groups = layout.num_groups();
  std::vector<int64_t> task(num_groups);
  for (size_t g = 0; g < num_groups; ++g) {
    const size_t first_traj = static_cast<size_t>(layout.group_trajs[static_cast<size_t>(layout.group_traj_offsets[g])]);
    task[g] = b.task ? b.task[layout.traj_begin[first_traj]] : layout.group_ids[g];
  }
  if (!b.task) return task;
  // Trajectories are numbered in batch order, so the first mismatch found is the first offending row.
  for (size_t t = 0; t < layout.traj_begin.size(); ++t) {
    const size_t g = static_cast<size_t>(layout.traj_group[t]);
    for (int64_t i = layout.traj_begin[t]; i < layout.traj_end[t]; ++i) {
      if (b.task[i] != task[g]) {
        const size_t first_traj =
            static_cast<size_t>(layout.group_trajs[static_cast<size_t>(layout.group_traj_offsets[g])]);
        std::ostringstream msg;
        msg << "task differs from the task of row " << layout.traj_begin[first_traj] << ", the first row of group "
            << layout.group_ids[g] << " (the task must be constant within a group)";
        row_error(static_cast<size_t>(i), msg.str());
      }
    }
  }
  return task;
}

// ---------------------------------------------------------------------------------------------------------
// Staging a call: per task of the call, which stored edges its rows see again (with their last cost) and which
// edges are new, then the task's new contents (GraphMemory::Staged). Nothing here changes the memory.
//
// Two ways to find a task's edges. A task with one group in the call (the usual case) reads them off the
// group's graph, which already joined the rows' states with the stored ones: node ids, no hashing. A task
// with several groups in the call hashes its rows' fingerprints against its stored nodes and edges.

namespace {

constexpr double kNotSeen = std::numeric_limits<double>::quiet_NaN();

enum class Target { State, Success, Terminal };

// Row i's target per SPEC "Input" (`end` is one past its trajectory's last row), as the graph builder reads
// it: a next_state of {0, 0} is "none given" for that row.
inline Target row_target(const BatchView& b, size_t i, size_t end, Fingerprint& state) {
  const bool given = b.next_state && !(b.next_state[i].lo == 0 && b.next_state[i].hi == 0);
  if (i + 1 < end) {
    state = given ? b.next_state[i] : b.state[i + 1];
    return Target::State;
  }
  if (b.success[i]) return Target::Success;
  if (given) {
    state = b.next_state[i];
    return Target::State;
  }
  return Target::Terminal;
}

inline int64_t edge_key(uint32_t src, uint32_t dst) {
  return static_cast<int64_t>((static_cast<uint64_t>(src) << 32) | dst);
}

struct NewEdge {
  uint32_t src, dst;
  double cost;
  size_t first_row;
};

struct StageScratch {
  std::vector<double> seen_cost;  // per stored edge: its cost in this call, kNotSeen if not seen
  std::vector<NewEdge> new_edges;
  std::vector<StoredEdge> refreshed;
  std::vector<uint32_t> remap;
  // From a graph.
  std::vector<int32_t> stamp, slot;
  std::vector<int64_t> stored_offsets;
  std::vector<uint32_t> stored_by_src;
  // By hashing.
  FingerprintIndex nodes;
  IdIndex edges;
  std::vector<std::pair<int64_t, int64_t>> spans;
  std::vector<Fingerprint> new_nodes;
};

// The task's new contents from what staging found. Endpoint ids live in some id space [0, num_ids) in which
// `success` is SUCCESS; old_src/old_dst give stored edge k's endpoints there, fingerprint_of an id's state.
// Nodes are renumbered by first use in edge order and only those in use are kept.
template <typename Staged, typename OldSrc, typename OldDst, typename FingerprintOf>
void assemble(const StoredTaskView& view, OldSrc old_src, OldDst old_dst, uint32_t success, size_t num_ids,
              FingerprintOf fingerprint_of, uint32_t call, StageScratch& s, Staged& out) {
  out.edges.clear();
  out.edges.reserve(view.num_edges + s.new_edges.size());
  s.refreshed.clear();
  for (size_t k = 0; k < view.num_edges; ++k) {
    StoredEdge e = view.edges[k];
    e.src = old_src(k);
    e.dst = old_dst(k);
    if (std::isnan(s.seen_cost[k])) {
      out.edges.push_back(e);
    } else {
      e.cost = s.seen_cost[k];
      e.last_seen = call;
      s.refreshed.push_back(e);
    }
  }
  std::sort(s.refreshed.begin(), s.refreshed.end(),
            [](const StoredEdge& a, const StoredEdge& b) { return a.insertion < b.insertion; });
  out.edges.insert(out.edges.end(), s.refreshed.begin(), s.refreshed.end());
  out.first_new = out.edges.size();
  out.new_rows.clear();
  out.new_rows.reserve(s.new_edges.size());
  for (const NewEdge& e : s.new_edges) {
    out.edges.push_back({e.src, e.dst, call, 0, e.cost});  // insertion: at commit
    out.new_rows.push_back(e.first_row);
  }
  auto& remap = s.remap;
  remap.assign(num_ids, UINT32_MAX);
  uint32_t used = 0;
  for (StoredEdge& e : out.edges) {
    for (uint32_t* end : {&e.src, &e.dst}) {
      if (*end == success) {
        *end = kStoredSuccess;
        continue;
      }
      if (remap[*end] == UINT32_MAX) remap[*end] = used++;
      *end = remap[*end];
    }
  }
  out.nodes.assign(used, Fingerprint{0, 0});
  for (size_t id = 0; id < num_ids; ++id)
    if (remap[id] != UINT32_MAX) out.nodes[remap[id]] = fingerprint_of(id);
}

// A task with one group in the call: its graph's node ids. Stored edge k is graph edge num_edges() + k.
template <typename Staged>
void stage_from_graph(const GroupGraph& g, const StoredTaskView& view, const BatchView& b, uint32_t call,
                      uint8_t* is_new, StageScratch& s, Staged& out) {
  const size_t num_nodes = static_cast<size_t>(g.num_nodes());
  const size_t num_stored = view.num_edges;
  // Stored edges by source node (counting sort).
  s.stored_offsets.assign(num_nodes + 1, 0);
  for (size_t k = 0; k < num_stored; ++k) s.stored_offsets[static_cast<size_t>(g.stored_src[k]) + 1] += 1;
  for (size_t v = 0; v < num_nodes; ++v) s.stored_offsets[v + 1] += s.stored_offsets[v];
  s.stored_by_src.resize(num_stored);
  {
    std::vector<int64_t>& cursor = s.stored_offsets;  // advanced, then restored below
    for (size_t k = 0; k < num_stored; ++k)
      s.stored_by_src[static_cast<size_t>(cursor[static_cast<size_t>(g.stored_src[k])]++)] = static_cast<uint32_t>(k);
    for (size_t v = num_nodes; v-- > 0;) cursor[v + 1] = cursor[v];
    cursor[0] = 0;
  }
  // Per source node v: mark the targets of its stored edges, then read its rows in row order (the forward
  // CSR lists them so): a marked target is an edge seen again, an unmarked one a new edge.
  s.stamp.assign(num_nodes, -1);
  s.slot.resize(num_nodes);
  s.seen_cost.assign(num_stored, kNotSeen);
  s.new_edges.clear();
  for (size_t v = 0; v < num_nodes; ++v) {
    const int32_t source = static_cast<int32_t>(v);
    for (int64_t j = s.stored_offsets[v]; j < s.stored_offsets[v + 1]; ++j) {
      const uint32_t k = s.stored_by_src[static_cast<size_t>(j)];
      const size_t d = static_cast<size_t>(g.stored_dst[k]);
      s.stamp[d] = source;
      s.slot[d] = static_cast<int32_t>(k);
    }
    for (int64_t p = g.out_offsets[v]; p < g.out_offsets[v + 1]; ++p) {
      const size_t e = static_cast<size_t>(g.out_edges[static_cast<size_t>(p)]);
      const size_t d = static_cast<size_t>(g.edge_dst[e]);
      if (g.node_kind[d] == NodeKind::Terminal) continue;  // never stored
      const size_t row = static_cast<size_t>(g.edge_row[e]);
      const double cost = b.cost ? b.cost[row] : 1.0;
      if (s.stamp[d] == source) {
        const int32_t slot = s.slot[d];
        if (slot >= 0) {
          s.seen_cost[static_cast<size_t>(slot)] = cost;
        } else {
          s.new_edges[static_cast<size_t>(-slot - 1)].cost = cost;  // the last cost wins
        }
      } else {
        s.stamp[d] = source;
        s.slot[d] = -static_cast<int32_t>(s.new_edges.size()) - 1;
        s.new_edges.push_back({static_cast<uint32_t>(v), static_cast<uint32_t>(d), cost, row});
        is_new[row] = 1;
      }
    }
  }
  std::sort(s.new_edges.begin(), s.new_edges.end(),
            [](const NewEdge& a, const NewEdge& b) { return a.first_row < b.first_row; });
  assemble(
      view, [&](size_t k) { return static_cast<uint32_t>(g.stored_src[k]); },
      [&](size_t k) { return static_cast<uint32_t>(g.stored_dst[k]); }, /*success=*/0u, num_nodes,
      [&](size_t v) { return g.node_state[v]; }, call, s, out);
}

// A task with several groups in the call: its rows (its groups' trajectories, in row order) hashed against
// its stored nodes and edges.
template <typename Staged>
void stage_by_hashing(const BatchView& b, const BatchLayout& layout, const StoredTaskView& view,
                      const uint32_t* groups, size_t num_groups, uint32_t call, uint8_t* is_new, StageScratch& s,
                      Staged& out) {
  auto& spans = s.spans;
  spans.clear();
  for (size_t k = 0; k < num_groups; ++k) {
    const size_t g = groups[k];
    for (int64_t j = layout.group_traj_offsets[g]; j < layout.group_traj_offsets[g + 1]; ++j) {
      const size_t t = static_cast<size_t>(layout.group_trajs[static_cast<size_t>(j)]);
      spans.emplace_back(layout.traj_begin[t], layout.traj_end[t]);
    }
  }
  std::sort(spans.begin(), spans.end());
  size_t num_rows = 0;
  for (const auto& span : spans) num_rows += static_cast<size_t>(span.second - span.first);

  const size_t num_nodes = view.num_nodes;
  const size_t num_stored = view.num_edges;
  s.nodes.reset(num_nodes + (b.next_state ? 2 * num_rows : num_rows) + 2);
  for (size_t k = 0; k < num_nodes; ++k) s.nodes.find_or_insert(view.nodes[k], static_cast<int32_t>(k));
  s.edges.reset(num_stored + num_rows);
  for (size_t j = 0; j < num_stored; ++j) s.edges.insert(edge_key(view.edges[j].src, view.edges[j].dst));
  s.seen_cost.assign(num_stored, kNotSeen);
  s.new_edges.clear();
  s.new_nodes.clear();
  auto node_of = [&](const Fingerprint& f) {
    const int32_t fresh = static_cast<int32_t>(num_nodes + s.new_nodes.size());
    const int32_t node = s.nodes.find_or_insert(f, fresh);
    if (node == fresh) s.new_nodes.push_back(f);
    return static_cast<uint32_t>(node);
  };
  for (const auto& span : spans) {
    const size_t lo = static_cast<size_t>(span.first), hi = static_cast<size_t>(span.second);
    for (size_t i = lo; i < hi; ++i) {
      Fingerprint next{0, 0};
      const Target kind = row_target(b, i, hi, next);
      if (kind == Target::Terminal) continue;  // never stored
      const uint32_t src = node_of(b.state[i]);
      const uint32_t dst = kind == Target::Success ? kStoredSuccess : node_of(next);
      const double cost = b.cost ? b.cost[i] : 1.0;
      const auto found = s.edges.insert(edge_key(src, dst));
      const size_t index = static_cast<size_t>(found.first);
      if (index < num_stored) {
        s.seen_cost[index] = cost;
      } else if (found.second) {
        s.new_edges.push_back({src, dst, cost, i});
        is_new[i] = 1;
      } else {
        s.new_edges[index - num_stored].cost = cost;  // the last cost wins
      }
    }
  }
  assemble(
      view, [&](size_t k) { return view.edges[k].src; }, [&](size_t k) { return view.edges[k].dst; },
      kStoredSuccess, num_nodes + s.new_nodes.size(),
      [&](size_t id) { return id < num_nodes ? view.nodes[id] : s.new_nodes[id - num_nodes]; }, call, s, out);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// The memory.

// stats().bytes: what the memory holds for its contents, every array at its exact size (as between calls),
// so it depends on the contents only (a loaded memory reports what the saved one did): per task its record,
// two slots of the task index and its heap entry; 16 bytes per node, 24 per edge.
uint64_t GraphMemory::content_bytes(uint64_t tasks, uint64_t nodes, uint64_t edges) {
  constexpr uint64_t kPerTask = sizeof(Task) + 2 * 2 * sizeof(int64_t) + sizeof(uint32_t);
  return sizeof(GraphMemory) + tasks * kPerTask + nodes * sizeof(Fingerprint) + edges * sizeof(StoredEdge);
}

GraphMemory::GraphMemory(const MemoryBounds& bounds) : bounds_(bounds), task_index_(16) {
  validate_memory_bounds(bounds);
}

GraphMemory::~GraphMemory() = default;

uint32_t GraphMemory::slot_of(int64_t key) const {
  const int64_t slot = task_index_.find(key);
  return slot < 0 ? UINT32_MAX : static_cast<uint32_t>(slot);
}

StoredTaskView GraphMemory::view_of(uint32_t slot) const {
  StoredTaskView view;
  const Task& task = tasks_[slot];
  view.nodes = task.nodes.data();
  view.num_nodes = task.nodes.size();
  view.edges = task.edges.data() + task.head;
  view.num_edges = task.size();
  return view;
}

StoredTaskView GraphMemory::task_view(int64_t key) const {
  std::lock_guard<std::mutex> guard(mutex_);
  const uint32_t slot = slot_of(key);
  return slot == UINT32_MAX ? StoredTaskView{} : view_of(slot);
}

uint32_t GraphMemory::slot_for(int64_t key) {
  uint32_t slot = slot_of(key);
  if (slot != UINT32_MAX) return slot;
  tasks_.emplace_back();
  tasks_.back().key = key;
  slot = static_cast<uint32_t>(task_index_.insert(key).first);
  ++empty_slots_;
  return slot;
}

MemoryStats GraphMemory::stats() const {
  std::lock_guard<std::mutex> guard(mutex_);
  MemoryStats s;
  s.tasks = tasks_.size() - empty_slots_;
  s.edges = total_edges_;
  s.calls = calls_;
  s.bytes = content_bytes(s.tasks, total_nodes_, total_edges_);
  return s;
}

uint64_t GraphMemory::front_key(uint32_t slot) const {
  const Task& t = tasks_[slot];
  const StoredEdge& e = t.edges[t.head];
  return (static_cast<uint64_t>(e.last_seen) << 32) | e.insertion;
}

void GraphMemory::sift_up(size_t pos) {
  const uint32_t slot = heap_[pos];
  const uint64_t key = front_key(slot);
  while (pos > 0) {
    const size_t parent = (pos - 1) / 2;
    if (front_key(heap_[parent]) <= key) break;
    heap_[pos] = heap_[parent];
    tasks_[heap_[pos]].heap_pos = static_cast<uint32_t>(pos);
    pos = parent;
  }
  heap_[pos] = slot;
  tasks_[slot].heap_pos = static_cast<uint32_t>(pos);
}

void GraphMemory::sift_down(size_t pos) {
  const uint32_t slot = heap_[pos];
  const uint64_t key = front_key(slot);
  const size_t n = heap_.size();
  while (true) {
    size_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && front_key(heap_[child + 1]) < front_key(heap_[child])) ++child;
    if (key <= front_key(heap_[child])) break;
    heap_[pos] = heap_[child];
    tasks_[heap_[pos]].heap_pos = static_cast<uint32_t>(pos);
    pos = child;
  }
  heap_[pos] = slot;
  tasks_[slot].heap_pos = static_cast<uint32_t>(pos);
}

void GraphMemory::heap_push(uint32_t slot) {
  heap_.push_back(slot);  // capacity reserved while staging: no allocation
  sift_up(heap_.size() - 1);
}

void GraphMemory::heap_fix(uint32_t slot) {
  const size_t pos = tasks_[slot].heap_pos;
  sift_up(pos);
  sift_down(tasks_[slot].heap_pos);
}

void GraphMemory::heap_remove(uint32_t slot) {
  const size_t pos = tasks_[slot].heap_pos;
  tasks_[slot].heap_pos = kNotInHeap;
  const uint32_t last = heap_.back();
  heap_.pop_back();
  if (pos == heap_.size()) return;
  heap_[pos] = last;
  tasks_[last].heap_pos = static_cast<uint32_t>(pos);
  heap_fix(last);
}

// Copies the task's stored edges and the nodes they use into arrays of their exact size, or gives an empty
// task's arrays back. Best effort: if the copy cannot be allocated, the task stays as it is, still valid.
void GraphMemory::compact(uint32_t slot) noexcept {
  Task& t = tasks_[slot];
  if (t.size() == 0) {
    total_nodes_ -= t.nodes.size();
    std::vector<Fingerprint>().swap(t.nodes);
    std::vector<StoredEdge>().swap(t.edges);
    t.head = 0;
    ++empty_slots_;
    return;
  }
  try {
    std::vector<StoredEdge> edges(t.edges.begin() + t.head, t.edges.end());
    std::vector<uint32_t> remap(t.nodes.size(), UINT32_MAX);
    for (const StoredEdge& e : edges) {
      remap[e.src] = 0;
      if (e.dst != kStoredSuccess) remap[e.dst] = 0;
    }
    std::vector<Fingerprint> nodes;
    nodes.reserve(static_cast<size_t>(std::count(remap.begin(), remap.end(), 0u)));
    for (size_t k = 0; k < remap.size(); ++k) {
      if (remap[k] == UINT32_MAX) continue;
      remap[k] = static_cast<uint32_t>(nodes.size());
      nodes.push_back(t.nodes[k]);
    }
    for (StoredEdge& e : edges) {
      e.src = remap[e.src];
      if (e.dst != kStoredSuccess) e.dst = remap[e.dst];
    }
    total_nodes_ -= t.nodes.size();
    total_nodes_ += nodes.size();
    t.edges.swap(edges);
    t.nodes.swap(nodes);
    t.head = 0;
  } catch (...) {
  }
}

// Evicts the task's least recently seen edge. Every task is compact between calls (head 0), so a task's
// first eviction of a call is when its head leaves 0: it is listed once, for compact() after the bounds.
void GraphMemory::pop_front(uint32_t slot) {
  Task& t = tasks_[slot];
  if (t.head == 0) evicted_.push_back(slot);  // capacity reserved while staging: no allocation
  ++t.head;
  --total_edges_;
  if (t.size() == 0) {
    heap_remove(slot);
  } else {
    sift_down(t.heap_pos);  // the front only moves later in the order
  }
}

// Empty slots accumulate as tasks are evicted; rebuild the slot table when they outnumber the rest. Not
// visible: slots are an internal numbering.
void GraphMemory::compact_slots() {
  std::vector<Task> tasks;
  tasks.reserve(tasks_.size() - empty_slots_);
  IdIndex index(tasks_.size() - empty_slots_ + 16);
  std::vector<uint32_t> heap;
  heap.reserve(heap_.capacity());
  std::vector<uint32_t> new_slot(tasks_.size(), UINT32_MAX);
  for (size_t k = 0; k < tasks_.size(); ++k) {
    if (tasks_[k].size() == 0) continue;
    new_slot[k] = static_cast<uint32_t>(index.insert(tasks_[k].key).first);
  }
  // Everything that can fail has been allocated; move the tasks.
  for (size_t k = 0; k < tasks_.size(); ++k)
    if (new_slot[k] != UINT32_MAX) tasks.push_back(std::move(tasks_[k]));
  for (uint32_t slot : heap_) heap.push_back(new_slot[slot]);
  tasks_.swap(tasks);
  task_index_ = std::move(index);
  heap_.swap(heap);
  empty_slots_ = 0;
}

// Insertion numbers are 32-bit: when they would run out, renumber every edge 0, 1, ... in the same order
// (only their order is ever used): the stored edges of tasks outside the call and the staged edges (all but
// the new ones) of tasks in it.
void GraphMemory::renumber_insertions(std::vector<Staged>& staged) {
  std::vector<uint8_t> in_call(tasks_.size(), 0);
  for (const Staged& st : staged) in_call[st.slot] = 1;
  std::vector<std::pair<uint32_t, StoredEdge*>> order;
  order.reserve(total_edges_);
  for (size_t slot = 0; slot < tasks_.size(); ++slot) {
    if (in_call[slot]) continue;
    Task& t = tasks_[slot];
    for (size_t j = t.head; j < t.edges.size(); ++j) order.emplace_back(t.edges[j].insertion, &t.edges[j]);
  }
  for (Staged& st : staged)
    for (size_t j = 0; j < st.first_new; ++j) order.emplace_back(st.edges[j].insertion, &st.edges[j]);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t k = 0; k < order.size(); ++k) order[k].second->insertion = static_cast<uint32_t>(k);
  next_insertion_ = static_cast<uint32_t>(order.size());
}

std::vector<int64_t> GraphMemory::task_keys() const {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<int64_t> keys;
  for (const Task& t : tasks_)
    if (t.size() > 0) keys.push_back(t.key);
  return keys;
}

void GraphMemory::set_next_insertion_for_testing(uint32_t next) {
  std::lock_guard<std::mutex> guard(mutex_);
  for (const Task& t : tasks_)
    for (size_t j = t.head; j < t.edges.size(); ++j)
      if (t.edges[j].insertion >= next) fail("next insertion must exceed every stored insertion number");
  next_insertion_ = next;
}

void GraphMemory::apply_bounds(uint32_t call, const std::vector<Staged>& staged) {
  if (bounds_.max_age >= 0) {
    const uint64_t max_age = static_cast<uint64_t>(bounds_.max_age);
    while (!heap_.empty()) {
      const uint32_t slot = heap_[0];
      const Task& t = tasks_[slot];
      if (call - t.edges[t.head].last_seen < max_age) break;
      pop_front(slot);
    }
  }
  if (bounds_.max_edges_per_task >= 0) {
    const size_t limit = static_cast<size_t>(bounds_.max_edges_per_task);
    for (const Staged& st : staged)  // only the call's tasks grew
      while (tasks_[st.slot].size() > limit) pop_front(st.slot);
  }
  if (bounds_.max_edges >= 0) {
    const uint64_t limit = static_cast<uint64_t>(bounds_.max_edges);
    while (total_edges_ > limit) pop_front(heap_[0]);
  }
  // Tasks that lost edges give the space back (arrays at their exact size, nodes no edge uses dropped), so
  // every task is compact between calls, as a loaded memory is.
  for (uint32_t slot : evicted_) compact(slot);
  evicted_.clear();
}

// ---------------------------------------------------------------------------------------------------------
// One call.

GraphMemory::Call::Call(GraphMemory& memory, const BatchView& batch, const BatchLayout& layout)
    : memory_(memory), batch_(batch), layout_(layout) {
  const std::vector<int64_t> group_task = group_tasks(batch, layout);  // validates the rows' tasks
  lock_ = std::unique_lock<std::mutex>(memory.mutex_);
  if (memory.calls_ == UINT32_MAX) fail("graph memory: the call counter is exhausted (4294967295 calls)");
  const size_t num_groups = layout.num_groups();

  // The call's tasks in order of first appearance, each with its groups.
  IdIndex call_index(num_groups + 1);
  std::vector<int64_t> call_tasks;
  task_of_group_.resize(num_groups);
  for (size_t g = 0; g < num_groups; ++g) {
    const auto found = call_index.insert(group_task[g]);
    if (found.second) call_tasks.push_back(group_task[g]);
    task_of_group_[g] = static_cast<uint32_t>(found.first);
  }
  const size_t num_tasks = call_tasks.size();
  offsets_.assign(num_tasks + 1, 0);
  groups_.resize(num_groups);
  for (uint32_t t : task_of_group_) offsets_[t + 1] += 1;
  for (size_t t = 0; t < num_tasks; ++t) offsets_[t + 1] += offsets_[t];
  std::vector<uint32_t> cursor(offsets_.begin(), offsets_.end() - 1);
  for (size_t g = 0; g < num_groups; ++g) groups_[cursor[task_of_group_[g]]++] = static_cast<uint32_t>(g);

  // A slot per task (compacting slots and adding empty ones change nothing visible), then the views.
  if (memory.empty_slots_ > 1024 && memory.empty_slots_ * 2 > memory.tasks_.size()) memory.compact_slots();
  staged_.resize(num_tasks);
  for (size_t t = 0; t < num_tasks; ++t) staged_[t].slot = memory.slot_for(call_tasks[t]);
  memory.heap_.reserve(memory.tasks_.size());
  memory.evicted_.reserve(memory.tasks_.size());
  views_.resize(num_groups);
  for (size_t g = 0; g < num_groups; ++g) views_[g] = memory.view_of(staged_[task_of_group_[g]].slot);
  is_new_.assign(batch.n, 0);
}

GraphMemory::Call::~Call() = default;

void GraphMemory::Call::group_done(size_t g, const GroupGraph& graph) {
  const uint32_t t = task_of_group_[g];
  if (offsets_[t + 1] - offsets_[t] != 1) return;  // several groups: staged at commit, by hashing
  thread_local StageScratch scratch;
  stage_from_graph(graph, views_[g], batch_, memory_.calls_ + 1, is_new_.data(), scratch, staged_[t]);
  staged_[t].ready = true;
}

void GraphMemory::Call::commit(int num_threads) {
  GraphMemory& m = memory_;
  const uint32_t call = m.calls_ + 1;
  const size_t n = batch_.n;
  std::vector<uint32_t> pending;  // tasks not staged from a graph
  for (size_t t = 0; t < staged_.size(); ++t)
    if (!staged_[t].ready) pending.push_back(static_cast<uint32_t>(t));
  parallel_for(pending.size(), 1, resolve_num_threads(num_threads, n / 4096), [&](size_t lo, size_t hi) {
    thread_local StageScratch scratch;
    for (size_t k = lo; k < hi; ++k) {
      const uint32_t t = pending[k];
      stage_by_hashing(batch_, layout_, views_[groups_[offsets_[t]]], groups_.data() + offsets_[t],
                       offsets_[t + 1] - offsets_[t], call, is_new_.data(), scratch, staged_[t]);
    }
  });
  // Insertion numbers of new edges: in row order of their first rows.
  std::vector<uint32_t> rank(n);
  uint64_t num_new = 0;
  for (size_t i = 0; i < n; ++i) {
    rank[i] = static_cast<uint32_t>(num_new);
    num_new += is_new_[i];
  }
  if (m.next_insertion_ + num_new > UINT32_MAX) {
    m.renumber_insertions(staged_);
    if (m.next_insertion_ + num_new > UINT32_MAX) fail("graph memory: more than 4294967295 stored edges");
  }
  for (Staged& st : staged_)
    for (size_t j = 0; j < st.new_rows.size(); ++j)
      st.edges[st.first_new + j].insertion = m.next_insertion_ + rank[st.new_rows[j]];

  // Commit: from here on nothing allocates or throws.
  for (Staged& st : staged_) {
    Task& task = m.tasks_[st.slot];
    const size_t before = task.size();
    m.total_nodes_ -= task.nodes.size();
    task.nodes.swap(st.nodes);
    task.edges.swap(st.edges);
    task.head = 0;
    m.total_nodes_ += task.nodes.size();
    m.total_edges_ += task.size();
    m.total_edges_ -= before;
    if (before == 0 && task.size() > 0) {
      --m.empty_slots_;
      m.heap_push(st.slot);
    } else if (task.size() > 0) {
      m.heap_fix(st.slot);
    }
  }
  m.calls_ = call;
  m.next_insertion_ += static_cast<uint32_t>(num_new);
  m.apply_bounds(call, staged_);
}

// ---------------------------------------------------------------------------------------------------------
// Files.

namespace {

constexpr char kMagic[16] = {'g', 'r', 'a', 'p', 'h', 'g', 'p', 'o', '-', 'm', 'e', 'm', 'o', 'r', 'y', '\n'};
constexpr uint32_t kFormatVersion = 1;
// magic, version, reserved, 3 bounds, calls, next insertion, tasks, nodes, edges.
constexpr size_t kHeaderBytes = 16 + 4 + 4 + 3 * 8 + 5 * 8;
constexpr size_t kTaskHeaderBytes = 8 + 4 + 4;
constexpr size_t kChecksumBytes = 16;

template <typename T>
void put(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

class Reader {
 public:
  Reader(const std::string& bytes, size_t end) : data_(bytes.data()), end_(end) {}
  template <typename T>
  T take() {
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));  // bounds were checked against the declared sizes
    pos_ += sizeof(T);
    return value;
  }
  void take_array(void* out, size_t bytes) {
    if (bytes) std::memcpy(out, data_ + pos_, bytes);
    pos_ += bytes;
  }
  void skip(size_t bytes) { pos_ += bytes; }
  size_t left() const { return end_ - pos_; }

 private:
  const char* data_;
  size_t end_;
  size_t pos_ = 0;
};

[[noreturn]] void io_fail(int error_number, const std::string& path, const std::string& what) {
  throw IoError(error_number, path, what, what + " '" + path + "': " + std::strerror(error_number));
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes `bytes` to a fresh temporary file beside `path`, flushes it to disk, renames it over `path` and
// flushes the directory entry: readers see the old file or the new one, never a part.
void write_file_atomically(const std::string& path, const std::string& bytes) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp-" + std::to_string(static_cast<long long>(getpid())) + "-" +
                          std::to_string(counter.fetch_add(1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) io_fail(errno, path, "cannot create a temporary file beside");
  auto abandon = [&](int error_number, const char* what) {
    ::close(fd);
    ::unlink(tmp.c_str());
    io_fail(error_number, path, what);
  };
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon(errno, "cannot write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) abandon(errno, "cannot flush");
  if (::close(fd) != 0) {
    const int error_number = errno;
    ::unlink(tmp.c_str());
    io_fail(error_number, path, "cannot close");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error_number = errno;
    ::unlink(tmp.c_str());
    io_fail(error_number, path, "cannot rename the temporary file to");
  }
  const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {  // best effort: some file systems refuse to open or fsync directories
    ::fsync(dir);
    ::close(dir);
  }
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_fail(errno, path, "cannot open");
  std::string bytes;
  struct stat info;
  if (::fstat(fd, &info) == 0 && info.st_size > 0) bytes.reserve(static_cast<size_t>(info.st_size));
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error_number = errno;
      ::close(fd);
      io_fail(error_number, path, "cannot read");
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

}  // namespace

std::string GraphMemory::to_bytes() const {
  std::lock_guard<std::mutex> guard(mutex_);
  // Canonical: tasks by key, each task's nodes reduced to those its edges use, numbered by first use in
  // edge order, so equal memories give equal bytes whatever their history of slots and compactions.
  std::vector<std::pair<int64_t, uint32_t>> order;
  order.reserve(tasks_.size() - empty_slots_);
  for (uint32_t slot = 0; slot < tasks_.size(); ++slot)
    if (tasks_[slot].size() > 0) order.emplace_back(tasks_[slot].key, slot);
  std::sort(order.begin(), order.end());
  std::vector<std::vector<uint32_t>> remaps(order.size());
  uint64_t num_nodes = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const Task& t = tasks_[order[k].second];
    std::vector<uint32_t>& remap = remaps[k];
    remap.assign(t.nodes.size(), UINT32_MAX);
    uint32_t used = 0;
    for (size_t j = t.head; j < t.edges.size(); ++j) {
      for (const uint32_t node : {t.edges[j].src, t.edges[j].dst})
        if (node != kStoredSuccess && remap[node] == UINT32_MAX) remap[node] = used++;
    }
    num_nodes += used;
  }
  std::string out;
  out.reserve(kHeaderBytes + order.size() * kTaskHeaderBytes + num_nodes * sizeof(Fingerprint) +
              total_edges_ * sizeof(StoredEdge) + kChecksumBytes);
  out.append(kMagic, sizeof kMagic);
  put(out, kFormatVersion);
  put(out, uint32_t{0});
  put(out, bounds_.max_edges_per_task);
  put(out, bounds_.max_edges);
  put(out, bounds_.max_age);
  put(out, static_cast<uint64_t>(calls_));
  put(out, static_cast<uint64_t>(next_insertion_));
  put(out, static_cast<uint64_t>(order.size()));
  put(out, num_nodes);
  put(out, total_edges_);
  for (size_t k = 0; k < order.size(); ++k) {
    const Task& t = tasks_[order[k].second];
    const std::vector<uint32_t>& remap = remaps[k];
    std::vector<Fingerprint> nodes(remap.size());
    uint32_t used = 0;
    for (size_t v = 0; v < remap.size(); ++v) {
      if (remap[v] == UINT32_MAX) continue;
      nodes[remap[v]] = t.nodes[v];
      ++used;
    }
    put(out, t.key);
    put(out, used);
    put(out, static_cast<uint32_t>(t.size()));
    out.append(reinterpret_cast<const char*>(nodes.data()), used * sizeof(Fingerprint));
    for (size_t j = t.head; j < t.edges.size(); ++j) {
      StoredEdge e = t.edges[j];
      e.src = remap[e.src];
      if (e.dst != kStoredSuccess) e.dst = remap[e.dst];
      put(out, e);
    }
  }
  const Fingerprint checksum = fingerprint_bytes(out.data(), out.size());
  put(out, checksum.lo);
  put(out, checksum.hi);
  return out;
}

std::unique_ptr<GraphMemory> GraphMemory::from_bytes(const std::string& bytes, const std::string& origin) {
  auto bad = [&](const std::string& why) -> void { fail("graph memory file " + origin + ": " + why); };
  const size_t size = bytes.size();
  const size_t prefix = std::min(size, sizeof kMagic);
  if (std::memcmp(bytes.data(), kMagic, prefix) != 0 || size == 0) bad("not a graphgpo memory file");
  if (size < kHeaderBytes + kChecksumBytes) bad("truncated (" + std::to_string(size) + " bytes)");
  Reader header(bytes, kHeaderBytes);
  char magic[16];
  header.take_array(magic, sizeof magic);
  const uint32_t version = header.take<uint32_t>();
  if (version != kFormatVersion)
    bad("unsupported format version " + std::to_string(version) + " (this build reads version " +
        std::to_string(kFormatVersion) + ")");
  header.take<uint32_t>();
  MemoryBounds bounds;
  bounds.max_edges_per_task = header.take<int64_t>();
  bounds.max_edges = header.take<int64_t>();
  bounds.max_age = header.take<int64_t>();
  const uint64_t calls = header.take<uint64_t>();
  const uint64_t next_insertion = header.take<uint64_t>();
  const uint64_t num_tasks = header.take<uint64_t>();
  const uint64_t num_nodes = header.take<uint64_t>();
  const uint64_t num_edges = header.take<uint64_t>();
  // The size the header declares (counts larger than the file cannot be right: no overflow below).
  if (num_tasks > size || num_nodes > size || num_edges > size) bad("corrupt (impossible counts)");
  const uint64_t expected = kHeaderBytes + num_tasks * kTaskHeaderBytes + num_nodes * sizeof(Fingerprint) +
                            num_edges * sizeof(StoredEdge) + kChecksumBytes;
  if (size < expected) bad("truncated (" + std::to_string(size) + " of " + std::to_string(expected) + " bytes)");
  Fingerprint stored_checksum;
  std::memcpy(&stored_checksum.lo, bytes.data() + size - kChecksumBytes, 8);
  std::memcpy(&stored_checksum.hi, bytes.data() + size - kChecksumBytes + 8, 8);
  if (fingerprint_bytes(bytes.data(), size - kChecksumBytes) != stored_checksum) bad("corrupt (checksum mismatch)");
  if (size != expected) bad("corrupt (" + std::to_string(size) + " bytes, the header says " + std::to_string(expected) + ")");
  if (bounds.max_edges_per_task < -1 || bounds.max_edges < -1 || bounds.max_age < -1) bad("corrupt (bounds)");
  if (calls > UINT32_MAX || next_insertion > UINT32_MAX) bad("corrupt (counters)");

  auto memory = std::make_unique<GraphMemory>(bounds);
  GraphMemory& m = *memory;
  m.calls_ = static_cast<uint32_t>(calls);
  m.next_insertion_ = static_cast<uint32_t>(next_insertion);
  m.tasks_.resize(num_tasks);
  m.heap_.reserve(num_tasks);
  Reader r(bytes, size - kChecksumBytes);
  r.skip(kHeaderBytes);
  uint64_t nodes_seen = 0, edges_seen = 0;
  std::vector<uint32_t> insertions;
  insertions.reserve(num_edges);
  IdIndex pairs(16);
  std::vector<uint8_t> used;
  for (uint64_t k = 0; k < num_tasks; ++k) {
    Task& t = m.tasks_[k];
    if (r.left() < kTaskHeaderBytes) bad("corrupt (task records)");
    t.key = r.take<int64_t>();
    const uint32_t task_nodes = r.take<uint32_t>();
    const uint32_t task_edges = r.take<uint32_t>();
    nodes_seen += task_nodes;
    edges_seen += task_edges;
    if (nodes_seen > num_nodes || edges_seen > num_edges || task_edges == 0) bad("corrupt (task sizes)");
    if (m.task_index_.insert(t.key).second == false) bad("corrupt (task " + std::to_string(t.key) + " twice)");
    t.nodes.resize(task_nodes);
    t.edges.resize(task_edges);
    r.take_array(t.nodes.data(), task_nodes * sizeof(Fingerprint));
    r.take_array(t.edges.data(), task_edges * sizeof(StoredEdge));
    pairs.reset(task_edges);
    uint64_t previous = 0;
    for (size_t j = 0; j < task_edges; ++j) {
      const StoredEdge& e = t.edges[j];
      if (e.src >= task_nodes || (e.dst != kStoredSuccess && e.dst >= task_nodes)) bad("corrupt (node ids)");
      if (e.last_seen == 0 || e.last_seen > calls || e.insertion >= next_insertion) bad("corrupt (edge counters)");
      if (!(std::isfinite(e.cost) && e.cost > 0.0)) bad("corrupt (edge cost)");
      const uint64_t order = (static_cast<uint64_t>(e.last_seen) << 32) | e.insertion;
      if (j > 0 && order <= previous) bad("corrupt (edge order)");
      previous = order;
      if (!pairs.insert(edge_key(e.src, e.dst)).second) bad("corrupt (an edge stored twice)");
      if (bounds.max_age >= 0 && calls - e.last_seen >= static_cast<uint64_t>(bounds.max_age))
        bad("corrupt (an edge older than max_age)");
      insertions.push_back(e.insertion);
    }
    used.assign(task_nodes, 0);
    for (const StoredEdge& e : t.edges) {
      used[e.src] = 1;
      if (e.dst != kStoredSuccess) used[e.dst] = 1;
    }
    if (std::count(used.begin(), used.end(), 0) != 0) bad("corrupt (a node no edge uses)");
    if (bounds.max_edges_per_task >= 0 && task_edges > static_cast<uint64_t>(bounds.max_edges_per_task))
      bad("corrupt (a task over max_edges_per_task)");
  }
  if (nodes_seen != num_nodes || edges_seen != num_edges) bad("corrupt (totals)");
  if (bounds.max_edges >= 0 && num_edges > static_cast<uint64_t>(bounds.max_edges)) bad("corrupt (over max_edges)");
  std::sort(insertions.begin(), insertions.end());
  if (std::adjacent_find(insertions.begin(), insertions.end()) != insertions.end())
    bad("corrupt (insertion numbers repeat)");
  m.total_edges_ = num_edges;
  m.total_nodes_ = num_nodes;
  for (uint32_t slot = 0; slot < num_tasks; ++slot) m.heap_push(slot);
  return memory;
}

void GraphMemory::save(const std::string& path) const { write_file_atomically(path, to_bytes()); }

std::unique_ptr<GraphMemory> GraphMemory::load(const std::string& path) { return from_bytes(read_file(path), path); }

}  // namespace v0
}  // namespace graphgpo
