#include "graphgpo/batch.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>

#include "graphgpo/error.hpp"
#include "graphgpo/hash_index.hpp"
#include "graphgpo/parallel.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

[[noreturn]] void row_error(size_t row, const std::string& what) {
  std::ostringstream msg;
  msg << "row " << row << ": " << what;
  fail(msg.str());
}

// Pass 1 of validation over rows [lo, hi): the first bad value (non-finite reward, bad cost), the first row
// that breaks a trajectory run (group or success changes inside it), and where runs start. Everything
// here compares a row with itself or its predecessor, so chunks are independent. Findings past the first
// bad value are harmless: the caller reports the earliest error and ignores runs after it.
struct ChunkScan {
  size_t first_bad_value = SIZE_MAX;
  size_t first_broken_run = SIZE_MAX;
  std::vector<size_t> run_starts;
};

void scan_chunk(const BatchView& b, size_t lo, size_t hi, ChunkScan& scan) {
  if (const double* reward = b.reward) {
    for (size_t i = lo; i < hi && scan.first_bad_value == SIZE_MAX; ++i)
      if (!std::isfinite(reward[i])) scan.first_bad_value = i;
  }
  if (const double* cost = b.cost) {
    for (size_t i = lo; i < scan.first_bad_value && i < hi; ++i)
      if (!(std::isfinite(cost[i]) && cost[i] > 0.0)) scan.first_bad_value = i;
  }
  // A branch-free check of every row first; the exact row is searched for only on failure, which is rare.
  // Local pointers: the loops below must not reload them after each push_back.
  const int64_t* group = b.group;
  const int64_t* trajectory = b.trajectory;
  const uint8_t* success = b.success;
  const size_t from = std::max<size_t>(lo, 1);
  const auto breaks_run = [&](size_t i) {
    return (trajectory[i] == trajectory[i - 1]) &
           ((group[i] != group[i - 1]) | ((success[i] != 0) != (success[i - 1] != 0)));
  };
  bool broken = false;
  for (size_t i = from; i < hi; ++i) broken |= breaks_run(i);
  if (broken) {
    for (size_t i = from; i < hi; ++i) {
      if (breaks_run(i)) {
        scan.first_broken_run = i;
        break;
      }
    }
  }
  // Collected locally: neighbouring chunks' scans share cache lines, and other threads write those.
  std::vector<size_t> run_starts;
  if (lo == 0) run_starts.push_back(0);
  for (size_t i = from; i < hi; ++i)
    if (trajectory[i] != trajectory[i - 1]) run_starts.push_back(i);
  scan.run_starts = std::move(run_starts);
}

}  // namespace

BatchLayout validate_and_layout(const BatchView& b, bool need_action, int num_threads) {
  BatchLayout layout;
  const size_t n = b.n;
  if (n == 0) {
    layout.group_traj_offsets.push_back(0);
    return layout;
  }
  if (!b.group || !b.trajectory || !b.state || !b.success) fail("group, trajectory, state and success are required");
  if (need_action && !b.action) fail("distance='expected' needs the action of every row");

  // Pass 1, parallel over row chunks (see scan_chunk).
  constexpr size_t kChunk = 1 << 14;
  const size_t num_chunks = (n + kChunk - 1) / kChunk;
  std::vector<ChunkScan> chunks(num_chunks);
  parallel_for(num_chunks, 1, resolve_num_threads(num_threads, num_chunks), [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; ++c) scan_chunk(b, c * kChunk, std::min(n, (c + 1) * kChunk), chunks[c]);
  });
  size_t first_bad_value = SIZE_MAX, first_broken_run = SIZE_MAX;
  for (const ChunkScan& scan : chunks) {
    first_bad_value = std::min(first_bad_value, scan.first_bad_value);
    first_broken_run = std::min(first_broken_run, scan.first_broken_run);
  }
  // At one row a bad value is reported before a broken run.
  const size_t first_error = std::min(first_bad_value, first_broken_run);

  // Pass 2, serial over runs only: a trajectory id seen in an earlier run is split; number the groups.
  IdIndex groups(64);
  IdIndex seen_trajectories(1024);
  for (const ChunkScan& scan : chunks) {
    for (size_t i : scan.run_starts) {
      if (i >= first_error) break;
      const int64_t t = b.trajectory[i];
      if (!seen_trajectories.insert(t).second) {
        std::ostringstream msg;
        msg << "trajectory " << t << " is split in two runs (its rows must be contiguous and in step order)";
        row_error(i, msg.str());
      }
      if (!layout.traj_begin.empty()) layout.traj_end.push_back(static_cast<int64_t>(i));
      layout.traj_begin.push_back(static_cast<int64_t>(i));
      const auto group_index = groups.insert(b.group[i]);
      if (group_index.second) {
        layout.group_ids.push_back(b.group[i]);
        layout.group_num_rows.push_back(0);
      }
      layout.traj_group.push_back(group_index.first);
    }
  }
  if (first_error != SIZE_MAX) {
    const size_t i = first_error;
    if (first_bad_value == i) {
      if (b.reward && !std::isfinite(b.reward[i])) row_error(i, "reward is not finite");
      if (!std::isfinite(b.cost[i])) row_error(i, "cost is not finite");
      row_error(i, "cost must be > 0, got " + std::to_string(b.cost[i]));
    }
    std::ostringstream msg;
    if (b.group[i] != b.group[i - 1]) {
      msg << "trajectory " << b.trajectory[i] << " is spread over groups " << b.group[i - 1] << " and " << b.group[i];
    } else {
      msg << "success is not constant within trajectory " << b.trajectory[i];
    }
    row_error(i, msg.str());
  }
  layout.traj_end.push_back(static_cast<int64_t>(n));
  for (size_t t = 0; t < layout.traj_begin.size(); ++t)
    layout.group_num_rows[static_cast<size_t>(layout.traj_group[t])] += layout.traj_end[t] - layout.traj_begin[t];

  // Trajectories of each group, stable (counting sort by group).
  const size_t num_groups = layout.group_ids.size();
  layout.group_traj_offsets.assign(num_groups + 1, 0);
  for (int64_t g : layout.traj_group) layout.group_traj_offsets[static_cast<size_t>(g) + 1] += 1;
  for (size_t g = 0; g < num_groups; ++g) layout.group_traj_offsets[g + 1] += layout.group_traj_offsets[g];
  layout.group_trajs.resize(layout.traj_group.size());
  std::vector<int64_t> cursor(layout.group_traj_offsets.begin(), layout.group_traj_offsets.end() - 1);
  for (size_t t = 0; t < layout.traj_group.size(); ++t)
    layout.group_trajs[static_cast<size_t>(cursor[static_cast<size_t>(layout.traj_group[t])]++)] = static_cast<int64_t>(t);
  return layout;
}

namespace {

void check_texts(const TextRef* texts, size_t n, const char* field) {
  for (size_t i = 0; i < n; ++i) {
    const TextRef& t = texts[i];
    if (t.width != 1 && t.width != 2 && t.width != 4) row_error(i, std::string(field) + ": bad text element width");
    if (t.size >= UINT32_MAX) row_error(i, std::string(field) + ": text too long for merge=\"similar\"");
    if (t.size > 0 && t.data == nullptr) row_error(i, std::string(field) + ": text data is null");
  }
}

}  // namespace

void validate_texts(const BatchView& b) {
  if (b.n == 0) return;
  if (!b.state_text || (b.next_state && !b.next_state_text))
    throw Error(ErrorCode::TypeMismatch,
                "merge=\"similar\" needs text states (str or bytes) for state and next_state");
  check_texts(b.state_text, b.n, "state");
  if (b.next_state) check_texts(b.next_state_text, b.n, "next_state");
}

}  // namespace v0
}  // namespace graphgpo
