#include "graphgpo/batch.hpp"

#include <cmath>
#include <sstream>

#include "graphgpo/error.hpp"
#include "graphgpo/hash_index.hpp"

namespace graphgpo {
inline namespace v0 {
namespace {

[[noreturn]] void row_error(size_t row, const std::string& what) {
  std::ostringstream msg;
  msg << "row " << row << ": " << what;
  fail(msg.str());
}

}  // namespace

BatchLayout validate_and_layout(const BatchView& b, bool need_action) {
  BatchLayout layout;
  const size_t n = b.n;
  if (n == 0) {
    layout.group_traj_offsets.push_back(0);
    return layout;
  }
  if (!b.group || !b.trajectory || !b.state || !b.success) fail("group, trajectory, state and success are required");
  if (need_action && !b.action) fail("distance='expected' needs the action of every row");

  // Value checks first, as one tight scan: the first non-finite reward or bad cost. Structural errors
  // only matter before that row (at the same row the value error is reported, as documented).
  size_t first_bad_value = n;
  for (size_t i = 0; i < n && first_bad_value == n; ++i) {
    const bool bad_reward = b.reward && !std::isfinite(b.reward[i]);
    const bool bad_cost = b.cost && !(std::isfinite(b.cost[i]) && b.cost[i] > 0.0);
    if (bad_reward || bad_cost) first_bad_value = i;
  }

  IdIndex groups(64);
  IdIndex seen_trajectories(1024);
  // One pass over trajectory runs; within a run the group and the success flag must stay constant.
  for (size_t i = 0; i < first_bad_value;) {
    const int64_t t = b.trajectory[i];
    const int64_t g = b.group[i];
    const bool ok = b.success[i] != 0;
    if (!seen_trajectories.insert(t).second) {
      std::ostringstream msg;
      msg << "trajectory " << t << " is split in two runs (its rows must be contiguous and in step order)";
      row_error(i, msg.str());
    }
    size_t j = i + 1;
    for (; j < n && b.trajectory[j] == t; ++j) {
      if (j >= first_bad_value) break;
      if (b.group[j] != g) {
        std::ostringstream msg;
        msg << "trajectory " << t << " is spread over groups " << g << " and " << b.group[j];
        row_error(j, msg.str());
      }
      if ((b.success[j] != 0) != ok) {
        std::ostringstream msg;
        msg << "success is not constant within trajectory " << t;
        row_error(j, msg.str());
      }
    }
    const auto group_index = groups.insert(g);
    if (group_index.second) {
      layout.group_ids.push_back(g);
      layout.group_num_rows.push_back(0);
    }
    layout.traj_begin.push_back(static_cast<int64_t>(i));
    layout.traj_end.push_back(static_cast<int64_t>(j));
    layout.traj_group.push_back(group_index.first);
    layout.group_num_rows[static_cast<size_t>(group_index.first)] += static_cast<int64_t>(j - i);
    i = j;
  }
  if (first_bad_value < n) {
    const size_t i = first_bad_value;
    if (b.reward && !std::isfinite(b.reward[i])) row_error(i, "reward is not finite");
    if (!std::isfinite(b.cost[i])) row_error(i, "cost is not finite");
    row_error(i, "cost must be > 0, got " + std::to_string(b.cost[i]));
  }

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

}  // namespace v0
}  // namespace graphgpo
