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

  IdIndex groups(64);
  IdIndex seen_trajectories(1024);
  for (size_t i = 0; i < n; ++i) {
    if (b.reward && !std::isfinite(b.reward[i])) row_error(i, "reward is not finite");
    if (b.cost) {
      if (!std::isfinite(b.cost[i])) row_error(i, "cost is not finite");
      if (!(b.cost[i] > 0.0)) row_error(i, "cost must be > 0, got " + std::to_string(b.cost[i]));
    }
    const bool starts_run = i == 0 || b.trajectory[i] != b.trajectory[i - 1];
    if (starts_run) {
      if (!seen_trajectories.insert(b.trajectory[i]).second) {
        std::ostringstream msg;
        msg << "trajectory " << b.trajectory[i]
            << " is split in two runs (its rows must be contiguous and in step order)";
        row_error(i, msg.str());
      }
      if (i > 0) layout.traj_end.push_back(static_cast<int64_t>(i));
      layout.traj_begin.push_back(static_cast<int64_t>(i));
      const auto g = groups.insert(b.group[i]);
      if (g.second) {
        layout.group_ids.push_back(b.group[i]);
        layout.group_num_rows.push_back(0);
      }
      layout.traj_group.push_back(g.first);
    } else {
      if (b.group[i] != b.group[i - 1]) {
        std::ostringstream msg;
        msg << "trajectory " << b.trajectory[i] << " is spread over groups " << b.group[i - 1] << " and "
            << b.group[i];
        row_error(i, msg.str());
      }
      if ((b.success[i] != 0) != (b.success[i - 1] != 0)) {
        std::ostringstream msg;
        msg << "success is not constant within trajectory " << b.trajectory[i];
        row_error(i, msg.str());
      }
    }
    layout.group_num_rows[static_cast<size_t>(layout.traj_group.back())] += 1;
  }
  layout.traj_end.push_back(static_cast<int64_t>(n));

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
