"""``graphgpo demo``: GRPO vs GiGPO vs GraphGPO credit assignment on bundled Sokoban (or KeyDoor).

A small policy (an MLP over a one-hot encoding of the board text, or optionally a table with one softmax
per state; no LLM) is trained with the PPO-clip objective used by GiGPO and GraphGPO. Each training
iteration draws ``groups`` levels and plays ``rollouts`` episodes from each level's start state; the
episodes of one level form one group. Per-step advantages come from :func:`graphgpo.advantages` with the
estimator under test; everything else -- policy, optimizer, hyperparameters, episode budget, levels, the
level order and the seeds -- is identical across estimators (see :data:`TUNED` for how the shared
hyperparameters were chosen).

Reported per estimator (mean ± std over seeds):
- final success: success rate of the final policy (sampling) over every training level;
- AUC: mean training success over the whole run (area under the success curve);
- episodes to target: episodes used until a 5-iteration moving average of training success first reaches
  the target (seeds that never reach it are left out and counted in the table);
- credit accuracy: over every training step, the share whose advantage sign agrees with true progress
  (the exact optimal distance to the goal decreases -> positive expected; increases or stays -> negative;
  an advantage of exactly zero counts as half right), and the same share restricted to groups where at
  least one rollout succeeded (elsewhere outcome-based estimators have no information about progress).

The package, one concern per module: :mod:`.config` (what defines a run, shared hyperparameters),
:mod:`.task` (levels as one transition table, true distances, credit agreement), :mod:`.training` (policy,
rollouts, PPO, one run), :mod:`.runner` (all runs, results JSON, figures), :mod:`.report` (summaries and
tables), :mod:`.plots` (figures), :mod:`.cli` (command-line options). Importing it needs only numpy: torch
and matplotlib are imported when a run starts.
"""

from __future__ import annotations

from .cli import add_arguments, config_from_args, main
from .config import ENV_SETTINGS, ESTIMATORS, QUICK, TUNED, DemoConfig
from .report import format_table
from .runner import run_demo
from .task import Task, build_task, credit_agreement
from .training import RunResult, train_one

__all__ = [
    "ENV_SETTINGS",
    "ESTIMATORS",
    "QUICK",
    "TUNED",
    "DemoConfig",
    "RunResult",
    "Task",
    "add_arguments",
    "build_task",
    "config_from_args",
    "credit_agreement",
    "format_table",
    "main",
    "run_demo",
    "train_one",
]
