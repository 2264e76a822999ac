"""Hypothesis strategies for random batches: cycles, self-loops, failed and singleton groups, invalid
actions, costs, actions, interleaved groups."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def batches(draw, *, with_next_state=None, with_cost=None, with_action=None, with_reward=None, max_groups=4,
            max_trajectories=4, max_length=6, num_states=6, next_state_gaps=False):
    """``next_state_gaps``: when next_state is given, some rows' next_state are None ("no next state")."""
    num_groups = draw(st.integers(1, max_groups))
    trajectories = []  # (group id, rows) with rows = list of (state, next_state, valid, reward, cost, action)
    traj_success = []
    for g in range(num_groups):
        group_id = draw(st.integers(-5, 50)) * 100 + g  # arbitrary, distinct ids
        for _ in range(draw(st.integers(1, max_trajectories))):
            length = draw(st.integers(1, max_length))
            states = draw(st.lists(st.integers(0, num_states - 1), min_size=length + 1, max_size=length + 1))
            rows = []
            for k in range(length):
                rows.append({
                    "state": states[k],
                    "next_state": states[k + 1],
                    "valid": draw(st.booleans()) or draw(st.booleans()),  # 75% valid
                    "reward": draw(st.floats(-2, 5, allow_nan=False, allow_infinity=False)),
                    "cost": draw(st.floats(0.25, 3.0)),
                    "action": draw(st.integers(0, 2)),
                })
            trajectories.append((group_id, rows))
            traj_success.append(draw(st.booleans()))
    if draw(st.booleans()):  # interleave the groups' trajectories
        order = draw(st.permutations(range(len(trajectories))))
        trajectories = [trajectories[i] for i in order]
        traj_success = [traj_success[i] for i in order]
    use_next = draw(st.booleans()) if with_next_state is None else with_next_state
    use_cost = draw(st.booleans()) if with_cost is None else with_cost
    use_action = draw(st.booleans()) if with_action is None else with_action
    use_reward = draw(st.booleans()) if with_reward is None else with_reward
    out = {k: [] for k in ("group", "trajectory", "state", "next_state", "success", "valid", "reward", "cost",
                           "action")}
    traj_ids = draw(st.lists(st.integers(0, 10_000), min_size=len(trajectories), max_size=len(trajectories),
                             unique=True))
    for (group_id, rows), ok, tid in zip(trajectories, traj_success, traj_ids):
        for r in rows:
            out["group"].append(group_id)
            out["trajectory"].append(tid)
            out["success"].append(ok)
            for k in ("state", "next_state", "valid", "reward", "cost", "action"):
                out[k].append(r[k])
    if use_next and next_state_gaps:
        out["next_state"] = [None if draw(st.booleans()) else x for x in out["next_state"]]
    for name, used in (("next_state", use_next), ("cost", use_cost), ("action", use_action),
                       ("reward", use_reward)):
        if not used:
            out[name] = None
    return out


@st.composite
def options(draw, method):
    o = {}
    if draw(st.booleans()):
        o["omega"] = draw(st.floats(0.05, 0.95))
    if draw(st.booleans()):
        o["gamma"] = draw(st.sampled_from([0.0, 0.5, 0.95, 1.0]))
    if draw(st.booleans()):
        o["success_reward"] = draw(st.sampled_from([1.0, 10.0, 3.5]))
    if draw(st.booleans()):
        o["invalid_penalty"] = draw(st.sampled_from([0.0, 0.1, 1.0]))
    if draw(st.booleans()):
        o["step_weight"] = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    if draw(st.booleans()):
        o["episode_weight"] = draw(st.sampled_from([0.0, 1.0, 0.3]))
    if draw(st.booleans()):
        o["norm"] = draw(st.sampled_from(["mean_std", "mean"]))
    if draw(st.booleans()):
        o["eps"] = draw(st.sampled_from([1e-6, 1e-3, 0.0]))
    if draw(st.booleans()):
        o["convention"] = draw(st.sampled_from(["reference", "paper"]))
    if draw(st.booleans()):
        o["episode_stats"] = draw(st.sampled_from(["per_step", "per_trajectory"]))
    if draw(st.booleans()):
        o["normalize_distance"] = draw(st.booleans())
    return o
