// A batch of agent steps (one row per environment step, SPEC "Input") and its validated layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "graphgpo/fingerprint.hpp"
#include "graphgpo/similarity.hpp"

namespace graphgpo {
inline namespace v0 {

// Borrowed views of the caller's arrays, all of length n. Optional fields may be null.
struct BatchView {
  size_t n = 0;
  const int64_t* group = nullptr;       // task group id
  const int64_t* trajectory = nullptr;  // trajectory id; rows contiguous and in step order
  const Fingerprint* state = nullptr;   // state at the start of the step
  const Fingerprint* next_state = nullptr;  // optional; absent (or {0,0} on a row): SPEC default
  const uint8_t* success = nullptr;     // nonzero = the trajectory succeeded; constant per trajectory
  const uint8_t* valid = nullptr;       // optional, default all valid
  const double* reward = nullptr;       // optional per-step reward
  const double* cost = nullptr;         // optional edge cost > 0 (default 1)
  const int64_t* action = nullptr;      // optional; needed by distance="expected"
  // Optional text of each state and next state, read by merge="similar" (SPEC "Merging similar states");
  // the fingerprints above still decide exact identity. next_state_text is needed iff next_state is given.
  const TextRef* state_text = nullptr;
  const TextRef* next_state_text = nullptr;
  const int64_t* task = nullptr;        // optional graph-memory task key (default: the group id)
};

// Groups in order of first appearance; trajectories in batch order.
struct BatchLayout {
  std::vector<int64_t> group_ids;           // dense group index -> caller's id
  std::vector<int64_t> traj_begin;          // first row of trajectory t
  std::vector<int64_t> traj_end;            // one past its last row
  std::vector<int64_t> traj_group;          // its dense group index
  std::vector<int64_t> group_traj_offsets;  // trajectories of group g: group_trajs[offsets[g], offsets[g+1])
  std::vector<int64_t> group_trajs;         // ... in batch order
  std::vector<int64_t> group_num_rows;      // rows per group
  size_t num_groups() const { return group_ids.size(); }
};

// Validates every SPEC rule on rows (trajectory runs, one group per trajectory, constant success, finite
// rewards and costs, cost > 0) and throws Error(InvalidArgument) naming the first offending row.
// `need_action` makes a missing action array an error. Row checks run on up to `num_threads` threads
// (0 = default); the result and the reported row never depend on it.
BatchLayout validate_and_layout(const BatchView& batch, bool need_action, int num_threads = 1);

// merge="similar" needs the text of every state (and of every next state when next states are given):
// throws Error(TypeMismatch) when it is missing, Error(InvalidArgument) naming the first row whose text is
// malformed (element width other than 1, 2 or 4; 2^32 - 1 elements or more; null data).
void validate_texts(const BatchView& batch);

}  // namespace v0
}  // namespace graphgpo
