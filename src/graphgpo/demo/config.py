"""What defines a demo run: :class:`DemoConfig`, the per-environment level settings and the shared
hyperparameters (:data:`TUNED`, and how they were chosen)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["DemoConfig", "ConfigError", "Estimator", "ESTIMATORS", "LABELS", "BASELINE", "ENV_SETTINGS", "TUNED",
           "QUICK", "validate"]


@dataclass(frozen=True)
class Estimator:
    """One row of the demo table: what it is called, which :data:`graphgpo.METHODS` entry computes its
    advantages, with which options, and whether it keeps a :class:`graphgpo.GraphMemory` across the
    iterations of a run (one memory per run; the task key of a group is its level, and levels recur across
    iterations)."""

    label: str
    method: str
    options: Mapping[str, Any] = field(default_factory=dict)
    memory: bool = False


#: The demo's rows, in table order. Adding an estimator to the demo is one line here. Options are the
#: estimator's defaults or the official values of its published code for Sokoban; they are not tuned.
ESTIMATORS: tuple[Estimator, ...] = (
    Estimator("grpo", "grpo"),
    Estimator("gigpo", "gigpo", {"gamma": 0.95}),
    Estimator("graphgpo", "graphgpo", {"omega": 0.8}),
    Estimator("graphgpo+memory", "graphgpo", {"omega": 0.8}, memory=True),
    Estimator("progpo", "progpo"),
)
LABELS: tuple[str, ...] = tuple(row.label for row in ESTIMATORS)
#: Paired differences are reported against this row.
BASELINE = "graphgpo"

# Per-environment level settings for the demo: small rooms, solutions long enough that random play
# mostly fails and wanders (revisits, invalid moves, deadlocks), so per-step credit matters.
ENV_SETTINGS: dict[str, dict[str, Any]] = {
    "sokoban": {"size": 6, "num_boxes": 1, "min_distance": 3, "max_distance": 8, "max_steps": 30},
    "keydoor": {"size": (4, 6), "min_distance": 6, "max_steps": 40},
}

# Shared hyperparameters, tuned once for all estimators together: every configuration of a small grid was
# run for all three estimators on tuning seeds 100-105 (disjoint from the demo's seeds 0, 1, 2, ...) and
# the configuration with the best AUC averaged over the three estimators was kept.
#   mlp (8192 episodes): lr {3e-4, 1e-3, 3e-3}; then at lr 1e-3: grad-norm clip {off, 1.0},
#       entropy {0.01, 0.03}, PPO epochs {2, 4}. Kept: lr 1e-3, entropy 0.03, 4 epochs, no clipping.
#   tabular (4096 episodes): lr {0.01, 0.03, 0.1} at entropy 0.01. Kept: lr 0.03.
# Estimator options are not tuned: gamma 0.95 (GiGPO) and omega 0.8 (GraphGPO) are the official values.
TUNED: dict[str, dict[str, float]] = {
    "mlp": {"lr": 1e-3, "entropy_coef": 0.03},
    "tabular": {"lr": 0.03, "entropy_coef": 0.01},
}

QUICK = {"episodes": 128, "seeds": 2, "groups": 4, "rollouts": 4, "num_levels": 4, "eval_rollouts": 4}


@dataclass
class DemoConfig:
    """Everything that defines a demo run. Hyperparameters are shared by all estimators."""

    env: str = "sokoban"
    # Rows to run: labels of ESTIMATORS, or Estimator rows of your own (e.g. a candidate estimator).
    estimators: tuple[str | Estimator, ...] = LABELS
    seeds: int = 7
    first_seed: int = 0  # runs use seeds first_seed .. first_seed + seeds - 1
    episodes: int = 8192  # episode budget per (estimator, seed) run
    groups: int = 8  # levels (groups) per training iteration
    rollouts: int = 8  # episodes per group, all from the level's start state
    num_levels: int = 16  # bundled training levels
    level_seed: int = 2026  # seed of the bundled level set (fixed, shared by all runs)
    max_steps: int = 0  # 0: the environment's demo default
    policy: str = "mlp"  # "mlp" (one-hot board -> MLP) or "tabular" (one softmax per state)
    hidden: int = 128
    lr: float | None = None  # None: TUNED[policy]["lr"]
    ppo_epochs: int = 4
    minibatches: int = 4
    clip: float = 0.2
    entropy_coef: float | None = None  # None: TUNED[policy]["entropy_coef"]
    max_grad_norm: float = 0.0  # 0: no gradient clipping
    target: float = 0.5  # success rate for "episodes to target"
    eval_rollouts: int = 16  # per level, for the final success rate
    # Option values that replace the rows' own, in every row that sets that option (e.g. {"omega": 0.5}).
    overrides: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None  # torch and engine threads per run (None: 1 for torch, engine default)
    jobs: int = 0  # processes running (estimator, seed) runs in parallel; 0: one per available CPU (1 if quick)
    out: str = "graphgpo_demo"
    quick: bool = False
    progress: bool = True

    def rows(self) -> tuple[Estimator, ...]:
        """The rows to run, with :attr:`overrides` applied."""
        by_label = {row.label: row for row in ESTIMATORS}
        rows = []
        for item in self.estimators:
            row = item if isinstance(item, Estimator) else by_label[item]
            options = {k: self.overrides.get(k, v) for k, v in row.options.items()}
            rows.append(replace(row, options=options))
        return tuple(rows)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(item.label if isinstance(item, Estimator) else item for item in self.estimators)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else TUNED[self.policy]["lr"]

    @property
    def entropy(self) -> float:
        return self.entropy_coef if self.entropy_coef is not None else TUNED[self.policy]["entropy_coef"]

    @property
    def episodes_per_iteration(self) -> int:
        return self.groups * self.rollouts

    @property
    def iterations(self) -> int:
        return max(1, self.episodes // self.episodes_per_iteration)


class ConfigError(ValueError):
    """A demo setting outside its allowed range; the message names the setting and fits on one line."""


def _check(ok: bool, name: str, rule: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{name} must be {rule}, got {value!r}")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate(cfg: DemoConfig) -> None:
    """Raise :class:`ConfigError` naming the first setting outside its range (before anything runs)."""
    _check(cfg.env in ENV_SETTINGS, "env", f"one of {', '.join(sorted(ENV_SETTINGS))}", cfg.env)
    _check(cfg.policy in TUNED, "policy", f"one of {', '.join(sorted(TUNED))}", cfg.policy)
    _check(len(cfg.estimators) > 0, "estimators", "a non-empty list", cfg.estimators)
    unknown = [e for e in cfg.estimators if not isinstance(e, Estimator) and e not in LABELS]
    _check(not unknown, "estimators", f"some of {', '.join(LABELS)}", ",".join(map(str, unknown)))
    _check(len(set(cfg.labels)) == len(cfg.labels), "estimators", "listed once each", ",".join(cfg.labels))
    for name in ("seeds", "episodes", "groups", "rollouts", "num_levels", "hidden", "ppo_epochs", "minibatches",
                 "eval_rollouts"):
        value = getattr(cfg, name)
        _check(_int(value) and value >= 1, name, "an integer >= 1", value)
    for name in ("first_seed", "level_seed", "max_steps"):
        value = getattr(cfg, name)
        _check(_int(value) and value >= 0, name, "an integer >= 0", value)
    if cfg.threads is not None:
        _check(_int(cfg.threads) and cfg.threads >= 1, "threads", "an integer >= 1", cfg.threads)
    for name in ("lr", "entropy_coef"):
        value = getattr(cfg, name)
        if value is not None:
            _check(_number(value) and (value > 0 if name == "lr" else value >= 0), name,
                   "a finite number > 0" if name == "lr" else "a finite number >= 0", value)
    _check(_number(cfg.clip) and cfg.clip > 0, "clip", "a finite number > 0", cfg.clip)
    _check(_number(cfg.max_grad_norm) and cfg.max_grad_norm >= 0, "max_grad_norm", "a finite number >= 0",
           cfg.max_grad_norm)
    _check(_number(cfg.target) and 0 < cfg.target <= 1, "target", "a success rate in (0, 1]", cfg.target)
    _check(_int(cfg.jobs) and cfg.jobs >= 0, "jobs", "an integer >= 0", cfg.jobs)
    # The options the command line sets; the engine checks every option of every row before the first run.
    if "omega" in cfg.overrides:
        omega = cfg.overrides["omega"]
        _check(_number(omega) and 0 < omega < 1, "omega", "in (0, 1)", omega)
    if "gamma" in cfg.overrides:
        gamma = cfg.overrides["gamma"]
        _check(_number(gamma) and 0 <= gamma <= 1, "gamma", "in [0, 1]", gamma)
    _check(isinstance(cfg.out, str) and cfg.out != "", "out", "a directory path", cfg.out)
