"""The demo's figures: learning curves (mean and 95% CI over seeds) and one group's state graph with its edges
colored by advantage. Needs matplotlib (imported only here, with the non-interactive Agg backend)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .config import DemoConfig
from .stats import t_quantile_975
from .task import Task
from .training import RunResult, moving_average

__all__ = ["plot_curves", "plot_group"]

_COLORS = {"grpo": "tab:gray", "gigpo": "tab:blue", "graphgpo": "tab:red", "progpo": "tab:green"}
_MORE_COLORS = ("tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def _color(label: str, index: int) -> str:
    """The three classic rows keep their colors; other rows take the next unused color in order."""
    return _COLORS.get(label) or _MORE_COLORS[index % len(_MORE_COLORS)]


def plot_curves(runs: dict[str, list[RunResult]], cfg: DemoConfig, path: str) -> None:
    """Training success (5-iteration moving average) per estimator: mean over seeds and its 95% CI."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    extra = 0
    for label, rs in runs.items():
        window = max(1, min(5, len(rs[0].success)))
        curves = np.array([moving_average(r.success, window) for r in rs])
        x = np.asarray(rs[0].episodes)
        mean = curves.mean(0)
        half = (t_quantile_975(len(rs) - 1) * curves.std(0, ddof=1) / math.sqrt(len(rs)) if len(rs) > 1
                else np.zeros_like(mean))
        color = _color(label, extra)
        extra += label not in _COLORS
        auc = np.mean([r.auc for r in rs])
        ax.plot(x, mean, color=color, label=f"{label} (AUC {auc:.2f})")
        ax.fill_between(x, np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1), color=color, alpha=0.2)
    ax.axhline(cfg.target, color="k", lw=0.6, ls=":")
    ax.set_xlabel("training episodes")
    ax.set_ylabel(f"success rate (moving avg, {cfg.episodes_per_iteration}-episode batches)")
    ax.set_ylim(0, 1)
    ax.set_title(f"{cfg.env}: mean and 95% CI over {cfg.seeds} seeds")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _group_layout(example: dict) -> tuple[dict, dict, list]:
    """Place nodes by their distance to SUCCESS on the group's graph, as the engine computes it.

    x = -(graph distance, from :func:`graphgpo.build_graphs`); within a layer, nodes are ordered by the mean
    height of their successors one layer closer (fewer crossings). Nodes that cannot reach SUCCESS fill a
    block of columns on the far left. Nodes are named by state id, or "SUCCESS". Returns (positions,
    graph distances of the nodes that reach SUCCESS, edges as (state, next, advantage, valid) in row order).
    """
    from ..graph import NODE_SUCCESS, build_graphs

    n = len(example["state"])
    graphs = build_graphs(group=np.zeros(n, dtype=np.int64), trajectory=np.asarray(example["trajectory"]),
                          state=np.asarray(example["state"], dtype=np.int64),
                          next_state=np.asarray(example["next_state"], dtype=np.int64),
                          success=np.asarray(example["success"], dtype=bool))
    src, dst, rows = (a.tolist() for a in graphs.edges(0))
    kinds = graphs.node_kinds(0).tolist()
    names: list[Any] = [None] * len(kinds)
    for s, t, r in zip(src, dst, rows, strict=True):
        names[s] = example["state"][r]
        names[t] = "SUCCESS" if kinds[t] == NODE_SUCCESS else example["next_state"][r]
    edges = [(names[s], names[t], example["advantage"][r], example["valid"][r])
             for s, t, r in zip(src, dst, rows, strict=True)]
    outgoing: dict[Any, list] = {v: [] for v in names if v is not None}
    for s, t, _, _ in edges:
        outgoing[s].append(t)
    unreachable = graphs.unreachable_distance(0)
    dist = {names[v]: int(d) for v, d in enumerate(graphs.distances(0).tolist())
            if names[v] is not None and d < unreachable}
    layers: list[list] = [[] for _ in range(max(dist.values()) + 1)]
    for v in outgoing:  # in node order: first appearance in the rows
        if v in dist:
            layers[dist[v]].append(v)
    pos: dict[Any, tuple[float, float]] = {"SUCCESS": (0.0, 0.0)}
    for d, layer in enumerate(layers[1:], start=1):
        def height(v, d=d):
            ys = [pos[t][1] for t in outgoing[v] if dist.get(t) == d - 1]
            return sum(ys) / len(ys) if ys else 0.0

        layer.sort(key=height)
        for k, v in enumerate(layer):
            pos[v] = (-float(d), k - (len(layer) - 1) / 2)
    stuck = [v for v in outgoing if v not in dist]
    per_column = max(4, max(len(layer) for layer in layers))
    for k, v in enumerate(stuck):
        col, row = divmod(k, per_column)
        pos[v] = (-float(len(layers)) - 0.5 * col, row - (min(per_column, len(stuck)) - 1) / 2)
    return pos, dist, edges


def plot_group(task: Task, example: dict | None, estimator: str, path: str) -> None:
    import matplotlib.pyplot as plt
    from matplotlib import cm, colors

    fig, ax = plt.subplots(figsize=(9, 5.5))
    if not example:
        ax.text(0.5, 0.5, "no group with both successes and failures was sampled", ha="center", va="center")
        ax.set_axis_off()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    pos, dist, edges = _group_layout(example)
    advs = np.array([e[2] for e in edges])
    lim = float(np.max(np.abs(advs))) or 1.0
    norm = colors.TwoSlopeNorm(vmin=-lim, vcenter=0.0, vmax=lim)
    cmap = plt.get_cmap("coolwarm_r")
    # Repeated edges are drawn once with their mean advantage.
    merged: dict[tuple, list[float]] = {}
    for s, t, a, _ in edges:
        merged.setdefault((s, t), []).append(a)
    for (s, t), a in merged.items():
        (x0, y0), (x1, y1) = pos[s], pos[t]
        color = cmap(norm(float(np.mean(a))))
        if s == t:
            ax.add_patch(plt.Circle((x0, y0 + 0.18), 0.16, fill=False, color=color, lw=1.5))
            continue
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": min(4.0, 1.0 + 0.3 * len(a)),
                                "shrinkA": 7, "shrinkB": 7, "connectionstyle": "arc3,rad=0.12"})
    start = example["state"][0]
    for v, (x, y) in pos.items():
        if v == "SUCCESS":
            ax.scatter([x], [y], s=260, c="gold", edgecolors="k", zorder=3, marker="*")
            ax.text(x, y - 0.3, "SUCCESS", ha="center", va="top", fontsize=7)
            continue
        true_d = task.dist[v]
        ax.scatter([x], [y], s=120, c="lightgreen" if v == start else "white", edgecolors="k", zorder=3)
        ax.text(x, y, "∞" if math.isinf(true_d) else str(int(true_d)), ha="center", va="center", fontsize=6,
                zorder=4)
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label=f"{estimator} advantage of the step (mean over repeats)")
    n_traj = len(set(example["trajectory"]))
    n_win = len({t for t, s in zip(example["trajectory"], example["success"], strict=True) if s})
    ax.set_title(f"One group's state graph (level {example['level']}, iteration {example['iteration']}, "
                 f"{n_win}/{n_traj} rollouts solved).\nx: graph distance to SUCCESS; node label: true optimal "
                 "distance; green: start state", fontsize=9)
    reachable = sorted(set(dist.values()))
    ticks = [-float(d) for d in reachable]
    labels = [str(d) for d in reachable]
    if len(pos) > len(dist):
        ticks.append(-float(reachable[-1] + 1))
        labels.append("none")
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels)
    ax.set_yticks([])
    ax.set_xlabel("graph distance to SUCCESS (left block: states from which no rollout of the group succeeded)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
