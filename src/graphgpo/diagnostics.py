"""Batch diagnostics: how much the rollouts of a group overlap, and how well distances explain outcomes."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._api import StateKey
from ._inputs import as_flags, as_ids
from .graph import NODE_STATE, build_graphs


def diagnostics(*, group, trajectory, state, success, next_state=None, cost=None, action=None,
                key: StateKey | None = None, num_threads: int | None = None, **ignored: Any) -> dict[str, float]:
    """Statistics of a batch's graphs (same row fields as :func:`graphgpo.advantages`).

    Returns a dict with:
      - ``num_rows``, ``num_groups``, ``mean_nodes_per_group``, ``mean_edges_per_group``;
      - ``shared_state_row_share``: rows whose start state is also a start state in another trajectory of
        the same group (the rows that step-level credit can compare);
      - ``unreachable_node_share``: state nodes that cannot reach SUCCESS, in groups with a success;
      - ``groups_without_success`` and ``groups_without_success_share``;
      - ``failed_steps_closer_share``: steps of failed trajectories whose next state is strictly closer to
        success (GraphGPO paper statistic; groups with a success only);
      - ``successful_steps_not_closer_share``: steps of successful trajectories that do not get closer;
      - ``mean_merged_states_per_group``: distinct states that joined another state's node, per group
        (0 unless ``merge="similar"``, which these diagnostics accept with ``similarity``, as graphgpo
        builds its graph).
    Shares are NaN when their denominator is empty. Distances are shortest-path distances.
    """
    graphs = build_graphs(group=group, trajectory=trajectory, state=state, success=success,
                          next_state=next_state, cost=cost, action=action, key=key, num_threads=num_threads,
                          **ignored)
    # The engine's view of the rows (validated flags, hashed string ids), not the raw inputs.
    success_rows = as_flags(success, "success").astype(bool)
    traj = as_ids(trajectory, "trajectory")
    nodes, edges = graphs.sizes()
    shared = unreachable = state_nodes = 0
    failed_closer = failed_steps = success_not_closer = success_steps = 0
    without_success = 0
    merged = 0
    for index, g in enumerate(graphs.group_ids):  # g: the group id; index: its place in sizes()
        merged += graphs.num_exact_states(g) - int(np.count_nonzero(graphs.node_kinds(g) == NODE_STATE))
        src, dst, rows = graphs.edges(g)
        # Rows whose start node is left by more than one trajectory of the group.
        pairs = np.unique(np.stack([src, traj[rows]]), axis=1)
        trajs_per_node = np.bincount(pairs[0], minlength=int(nodes[index]))
        shared += int(np.count_nonzero(trajs_per_node[src] > 1))
        if not graphs.has_success(g):
            without_success += 1
            continue
        dist = graphs.distances(g)
        kinds = graphs.node_kinds(g)
        is_state = kinds == NODE_STATE
        state_nodes += int(is_state.sum())
        unreachable += int(np.count_nonzero(is_state & (dist >= graphs.unreachable_distance(g))))
        closer = dist[dst] < dist[src]
        ok = success_rows[rows]
        failed_steps += int((~ok).sum())
        failed_closer += int((closer & ~ok).sum())
        success_steps += int(ok.sum())
        success_not_closer += int((~closer & ok).sum())

    def share(a: int, b: int) -> float:
        return a / b if b else float("nan")

    n_rows = int(edges.sum()) if len(edges) else 0
    n_groups = graphs.num_groups
    return {
        "num_rows": n_rows,
        "num_groups": n_groups,
        "mean_nodes_per_group": float(nodes.mean()) if n_groups else float("nan"),
        "mean_edges_per_group": float(edges.mean()) if n_groups else float("nan"),
        "shared_state_row_share": share(shared, n_rows),
        "unreachable_node_share": share(unreachable, state_nodes),
        "groups_without_success": without_success,
        "groups_without_success_share": share(without_success, n_groups),
        "failed_steps_closer_share": share(failed_closer, failed_steps),
        "successful_steps_not_closer_share": share(success_not_closer, success_steps),
        "mean_merged_states_per_group": merged / n_groups if n_groups else float("nan"),
    }
