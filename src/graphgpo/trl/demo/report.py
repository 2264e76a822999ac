"""Summaries, the README table and the learning-curve figure of the LLM demo (from results.json)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["summarize", "format_table", "write_figures"]


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per estimator: held-out success before (the shared warm start) and after RL, per seed and overall."""
    before_list = [r["success"] for r in results["warm_start"]["eval"]]
    before = sum(before_list) / len(before_list)
    out: dict[str, Any] = {"before": before, "eval_levels": len(before_list), "estimators": {},
                           "random_mover": results.get("random_mover_success")}
    for run in results["runs"]:
        entry = out["estimators"].setdefault(run["estimator"], {"seeds": [], "after": [], "train_success_last": []})
        entry["seeds"].append(run["seed"])
        entry["after"].append(sum(run["eval_success"]) / len(run["eval_success"]))
        tail = [p.get("graph/success_rate", math.nan) for p in run["curve"][-5:]]
        entry["train_success_last"].append(sum(tail) / len(tail) if tail else math.nan)
    for entry in out["estimators"].values():
        mean, std = _mean_std(entry["after"])
        entry["after_mean"], entry["after_std"] = mean, std
        entry["change_mean"] = mean - before
        entry["improved_seeds"] = sum(a > before for a in entry["after"])
    return out


def format_table(results: dict[str, Any]) -> str:
    """The README table (markdown): held-out success before and after RL per estimator and seed."""
    s = results["summary"]
    n = s["eval_levels"]
    rows = [
        "| estimator | warm start | after RL, per seed | after RL, mean ± std | change |",
        "|---|---|---|---|---|",
    ]
    ranked = sorted(s["estimators"].items(), key=lambda kv: -kv[1]["after_mean"])
    for name, e in ranked:
        per_seed = ", ".join(f"{round(a * n)}/{n}" for a in e["after"])
        rows.append(
            f"| {name} | {s['before']:.3f} | {per_seed} | {e['after_mean']:.3f} ± {e['after_std']:.3f} | "
            f"{e['change_mean']:+.3f} |"
        )
    if s.get("random_mover") is not None:
        rows.append(f"\n(A uniformly random mover solves {s['random_mover']:.3f} of these levels.)")
    return "\n".join(rows)


def _smooth(values: list[float], window: int = 5) -> list[float]:
    out = []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - window + 1) : i + 1] if not math.isnan(v)]
        out.append(sum(part) / len(part) if part else math.nan)
    return out


def write_figures(out: Path, results: dict[str, Any]) -> list[str]:
    """``learning_curves.png``: training success per RL step, held-out success before/after, SFT loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = {"grpo": "tab:gray", "gigpo": "tab:blue", "graphgpo": "tab:red"}
    by_est: dict[str, list[dict]] = {}
    for run in results["runs"]:
        by_est.setdefault(run["estimator"], []).append(run)
    ax = axes[0]
    for est, runs in by_est.items():
        color = colors.get(est)
        for k, run in enumerate(runs):
            steps = [p["step"] for p in run["curve"]]
            values = _smooth([p.get("graph/success_rate", math.nan) for p in run["curve"]])
            ax.plot(steps, values, color=color, alpha=0.8, label=est if k == 0 else None)
    ax.set_xlabel("RL step")
    ax.set_ylabel("training success (5-step mean)")
    ax.set_title("Learning curves (one line per seed)")
    ax.legend()

    ax = axes[1]
    s = results["summary"]
    names = list(s["estimators"])
    ax.bar([-1], [s["before"]], color="tab:green", label="warm start")
    for i, name in enumerate(names):
        e = s["estimators"][name]
        ax.bar([i], [e["after_mean"]], color=colors.get(name), alpha=0.7)
        ax.scatter([i] * len(e["after"]), e["after"], color="black", s=12, zorder=3)
    ax.set_xticks([-1, *range(len(names))], ["warm start", *names])
    ax.set_ylabel(f"held-out success ({s['eval_levels']} episodes)")
    ax.set_title("Before and after RL (dots: seeds)")

    ax = axes[2]
    ax.plot(results["warm_start"]["sft_losses"], color="tab:green")
    ax.set_xlabel("SFT step")
    ax.set_ylabel("loss (model turns)")
    ax.set_title("Warm start")
    fig.tight_layout()
    path = out / "learning_curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [str(path)]
