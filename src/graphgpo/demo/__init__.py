"""``graphgpo demo``: GRPO vs GiGPO vs GraphGPO credit assignment on bundled Sokoban (or KeyDoor).

A small policy (an MLP over a one-hot encoding of the board text, or optionally a table with one softmax
per state; no LLM) is trained with the PPO-clip objective used by GiGPO and GraphGPO. Each training
iteration draws ``groups`` levels and plays ``rollouts`` episodes from each level's start state; the
episodes of one level form one group. Per-step advantages come from :func:`graphgpo.advantages` with the
estimator under test; everything else -- policy, optimizer, hyperparameters, episode budget, levels, the
level order and the seeds -- is identical across estimators (see :data:`TUNED` for how the shared
hyperparameters were chosen). The estimators are rows of data (:data:`ESTIMATORS`: label, method,
options, graph memory or not); runs of different seeds and estimators go to parallel processes.

Reported per estimator (mean and 95% confidence interval over seeds, and the paired difference against
:data:`BASELINE` on the same seeds, see :mod:`.stats`):
- final success: success rate of the final policy (sampling) over every training level;
- AUC: mean training success over the whole run (area under the success curve);
- episodes to target: episodes used until a 5-iteration moving average of training success first reaches
  the target (seeds that never reach it are left out and counted in the table);
- credit accuracy: over every training step, the share whose advantage sign agrees with true progress
  (the exact optimal distance to the goal decreases -> positive expected; increases or stays -> negative;
  an advantage of exactly zero counts as half right), and the same share restricted to groups where at
  least one rollout succeeded (elsewhere outcome-based estimators have no information about progress).

The package, one concern per module: :mod:`.config` (what defines a run, the estimator rows,
shared hyperparameters), :mod:`.task` (levels as one transition table, true distances, credit agreement),
:mod:`.training` (policy, rollouts, PPO, one run), :mod:`.runner` (all runs in parallel processes, results
JSON, figures, time and load), :mod:`.stats` (confidence intervals, paired differences), :mod:`.report`
(tables, the README's demo block), :mod:`.plots` (figures), :mod:`.cli` (command-line options). Importing it needs only numpy: torch
and matplotlib are imported when a run starts.
"""

from __future__ import annotations

from .cli import add_arguments, config_from_args, main
from .config import (
    BASELINE,
    ENV_SETTINGS,
    ESTIMATORS,
    LABELS,
    QUICK,
    TUNED,
    ConfigError,
    DemoConfig,
    Estimator,
)
from .report import format_table, markdown_table
from .runner import DemoError, run_demo
from .task import Task, build_task, credit_agreement
from .training import RunResult, train_one

__all__ = [
    "BASELINE",
    "ENV_SETTINGS",
    "ESTIMATORS",
    "LABELS",
    "QUICK",
    "TUNED",
    "ConfigError",
    "DemoConfig",
    "DemoError",
    "Estimator",
    "RunResult",
    "Task",
    "add_arguments",
    "build_task",
    "config_from_args",
    "credit_agreement",
    "format_table",
    "main",
    "markdown_table",
    "run_demo",
    "train_one",
]
