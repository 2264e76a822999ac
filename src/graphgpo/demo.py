"""``graphgpo demo``: GRPO vs GiGPO vs GraphGPO credit assignment on bundled Sokoban (or KeyDoor).

A small policy (an MLP over a one-hot encoding of the board text, or optionally a table with one softmax
per state; no LLM) is trained with the PPO-clip objective used by GiGPO and GraphGPO. Each training
iteration draws ``groups`` levels and plays ``rollouts`` episodes from each level's start state; the
episodes of one level form one group. Per-step advantages come from :func:`graphgpo.advantages` with the
estimator under test; everything else -- policy, optimizer, hyperparameters, episode budget, levels, the
level order and the seeds -- is identical across estimators (see ``TUNED`` for how the shared
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

Speed: every level's whole state space is enumerated up front (:attr:`graphgpo.envs.Level.table`), so
rollouts of a whole batch are array lookups.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DemoConfig", "Task", "build_task", "run_demo", "format_table", "add_arguments", "main"]

ESTIMATORS = ("grpo", "gigpo", "graphgpo")


@dataclass
class DemoConfig:
    """Everything that defines a demo run. Hyperparameters are shared by all estimators."""

    env: str = "sokoban"
    estimators: tuple[str, ...] = ESTIMATORS
    seeds: int = 3
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
    # Estimator options: official values of the GiGPO / GraphGPO code for Sokoban.
    options: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "grpo": {},
        "gigpo": {"gamma": 0.95},
        "graphgpo": {"omega": 0.8},
    })
    threads: int | None = None
    out: str = "graphgpo_demo"
    quick: bool = False
    progress: bool = True

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


# Per-environment level settings for the demo: small rooms, solutions long enough that random play
# mostly fails and wanders (revisits, invalid moves, deadlocks), so per-step credit matters.
_ENV_SETTINGS: dict[str, dict[str, Any]] = {
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


# -- task: the bundled levels as one flat transition table ---------------------------------------------

@dataclass
class Task:
    """All states of all bundled levels, with global integer ids.

    ``next``/``valid`` are ``[S, A]``, ``goal``/``dist`` are ``[S]``, ``starts`` has one start id per level and
    ``tokens`` is ``[S, C]``: per board cell, the index of its (cell, character) pair -- the one-hot encoding of
    the board text, stored sparsely.
    """

    name: str
    levels: list
    next: np.ndarray
    valid: np.ndarray
    goal: np.ndarray
    dist: np.ndarray
    starts: np.ndarray
    tokens: np.ndarray
    num_tokens: int
    keys: list[str]
    max_steps: int

    @property
    def num_actions(self) -> int:
        return self.next.shape[1]


def build_task(env: str, num_levels: int, level_seed: int, max_steps: int = 0) -> Task:
    """Generate ``num_levels`` levels deterministically and flatten their state tables."""
    from .envs import generate_keydoor, generate_sokoban

    if env not in _ENV_SETTINGS:
        raise ValueError(f"unknown environment {env!r}; expected one of {sorted(_ENV_SETTINGS)}")
    settings = _ENV_SETTINGS[env]
    levels = []
    for i in range(num_levels):
        seed = level_seed * 1000 + i
        if env == "sokoban":
            levels.append(generate_sokoban(seed, settings["size"], settings["num_boxes"],
                                           settings["min_distance"], settings["max_distance"]))
        else:
            levels.append(generate_keydoor(seed, settings["size"], settings["min_distance"]))
    tables = [lv.table for lv in levels]
    offsets = np.cumsum([0] + [t.num_states for t in tables])
    nxt = np.concatenate([t.next.astype(np.int64) + off for t, off in zip(tables, offsets, strict=False)])
    keys = [k for t in tables for k in t.keys]
    # One-hot board encoding over a padded canvas so that levels of different sizes share one input.
    rows = max(lv.height for lv in levels)
    cols = max(lv.width for lv in levels)
    alphabet = sorted({ch for k in keys for ch in k if ch != "\n"})
    char_id = {ch: i for i, ch in enumerate(alphabet)}
    pad = len(alphabet)  # an extra "outside the board" character for padded cells
    tokens = np.empty((len(keys), rows * cols), dtype=np.int64)
    for j, key in enumerate(keys):
        codes = np.full((rows, cols), pad, dtype=np.int64)
        for r, line in enumerate(key.split("\n")):
            codes[r, :len(line)] = [char_id[ch] for ch in line]
        tokens[j] = codes.reshape(-1)
    tokens = tokens + np.arange(rows * cols, dtype=np.int64) * (pad + 1)
    return Task(name=env, levels=levels, next=nxt,
                valid=np.concatenate([t.valid for t in tables]),
                goal=np.concatenate([t.goal for t in tables]),
                dist=np.concatenate([t.dist for t in tables]),
                starts=offsets[:-1].astype(np.int64), tokens=tokens,
                num_tokens=rows * cols * (pad + 1), keys=keys,
                max_steps=max_steps or settings["max_steps"])


# -- advantage backend -------------------------------------------------------------------------------

def _advantage_fn() -> Callable[..., Any]:
    """The estimator entry point: :func:`graphgpo.advantages` (keyword signature of docs/design.md)."""
    import graphgpo

    fn = getattr(graphgpo, "advantages", None)
    if fn is None:
        raise RuntimeError("graphgpo.advantages is not available: the native engine is not built/installed")
    return fn


# -- policy and rollouts -----------------------------------------------------------------------------

def _make_policy(task: Task, hidden: int, kind: str = "mlp"):
    import torch
    from torch import nn

    if kind == "tabular":
        class Tabular(nn.Module):
            """Softmax over one logit vector per state (the board key), initialized uniform."""

            def __init__(self) -> None:
                super().__init__()
                self.logits = nn.Embedding(task.next.shape[0], task.num_actions)
                nn.init.zeros_(self.logits.weight)

            def forward(self, states: torch.Tensor) -> torch.Tensor:
                return self.logits(states)

        return Tabular()

    class BoardMLP(nn.Module):
        """Linear(one-hot board) -> tanh -> Linear -> action logits; the first layer is an EmbeddingBag."""

        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.EmbeddingBag(task.num_tokens, hidden, mode="sum")
            self.bias = nn.Parameter(torch.zeros(hidden))
            self.head = nn.Linear(hidden, task.num_actions)
            nn.init.normal_(self.embed.weight, std=1.0 / math.sqrt(task.tokens.shape[1]))
            nn.init.zeros_(self.head.bias)
            nn.init.normal_(self.head.weight, std=0.01)  # start near the uniform policy

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.head(torch.tanh(self.embed(tokens) + self.bias))

    return BoardMLP()


class _Adam:
    """Plain Adam (Kingma & Ba), enough for these tiny models.

    torch.optim's constructor imports torch._dynamo, which costs seconds on a small CPU machine -- more
    than a quick demo run itself -- so the demo carries its own few lines of Adam instead.
    """

    def __init__(self, params, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        import torch

        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = lr, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v, strict=True):
                if p.grad is None:
                    continue
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-self.lr / c1)


@dataclass
class Batch:
    """One iteration's rollouts as flat rows, trajectories contiguous and in step order."""

    group: np.ndarray
    trajectory: np.ndarray
    state: np.ndarray
    next_state: np.ndarray
    action: np.ndarray
    valid: np.ndarray
    success: np.ndarray  # per row (constant within a trajectory)
    logp: np.ndarray
    episode_success: np.ndarray  # per trajectory


def _rollout(task: Task, policy, tokens_t, level_ids: np.ndarray, rollouts: int, gen) -> Batch:
    """Play ``rollouts`` episodes from each listed level's start, all in lockstep."""
    import torch

    starts = np.repeat(task.starts[level_ids], rollouts)
    groups = np.repeat(np.arange(len(level_ids)), rollouts)
    n, horizon = len(starts), task.max_steps
    s = starts.copy()
    alive = np.ones(n, dtype=bool)
    states = np.zeros((n, horizon), dtype=np.int64)
    nexts = np.zeros((n, horizon), dtype=np.int64)
    actions = np.zeros((n, horizon), dtype=np.int64)
    logps = np.zeros((n, horizon), dtype=np.float32)
    mask = np.zeros((n, horizon), dtype=bool)
    success = np.zeros(n, dtype=bool)
    with torch.no_grad():
        for t in range(horizon):
            idx = np.nonzero(alive)[0]
            if idx.size == 0:
                break
            logits = policy(tokens_t[torch.from_numpy(s[idx])])
            logp_all = torch.log_softmax(logits, -1)
            # Sample through multinomial: it takes our generator, so runs are reproducible per seed.
            a_t = torch.multinomial(logp_all.exp(), 1, generator=gen).squeeze(-1)
            lp = logp_all.gather(1, a_t[:, None]).squeeze(1).numpy()
            a = a_t.numpy()
            s2 = task.next[s[idx], a]
            states[idx, t], nexts[idx, t], actions[idx, t], logps[idx, t] = s[idx], s2, a, lp
            mask[idx, t] = True
            s[idx] = s2
            won = task.goal[s2]
            success[idx[won]] = True
            alive[idx[won]] = False
    rows_state = states[mask]
    rows_action = actions[mask]
    lengths = mask.sum(1)
    traj = np.repeat(np.arange(n), lengths)
    return Batch(group=np.repeat(groups, lengths), trajectory=traj, state=rows_state, next_state=nexts[mask],
                 action=rows_action, valid=task.valid[rows_state, rows_action],
                 success=np.repeat(success, lengths), logp=logps[mask], episode_success=success)


def _ppo_update(policy, optimizer, tokens_t, batch: Batch, adv: np.ndarray, cfg: DemoConfig, gen) -> None:
    """PPO-clip on per-step advantages, mean over steps, several epochs of shuffled minibatches."""
    import torch

    n = len(adv)
    obs = tokens_t[torch.from_numpy(batch.state)]
    act = torch.from_numpy(batch.action)
    old = torch.from_numpy(batch.logp)
    adv_t = torch.from_numpy(adv.astype(np.float32))
    size = max(1, math.ceil(n / cfg.minibatches))
    for _ in range(cfg.ppo_epochs):
        perm = torch.randperm(n, generator=gen)
        for lo in range(0, n, size):
            mb = perm[lo:lo + size]
            logits = policy(obs[mb])
            logp_all = torch.log_softmax(logits, -1)
            logp = logp_all.gather(1, act[mb, None]).squeeze(1)
            ratio = torch.exp(logp - old[mb])
            a = adv_t[mb]
            surrogate = torch.minimum(ratio * a, torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip) * a)
            entropy = -(logp_all.exp() * logp_all).sum(-1)
            loss = -(surrogate.mean() + cfg.entropy * entropy.mean())
            optimizer.zero_grad()
            loss.backward()
            if cfg.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(optimizer.params, cfg.max_grad_norm)
            optimizer.step()


def credit_agreement(task: Task, state: np.ndarray, next_state: np.ndarray, adv: np.ndarray) -> np.ndarray:
    """Per step: 1 if the advantage sign matches true progress, 0 if opposite, 0.5 if the advantage is 0.

    True progress means the exact optimal distance to the goal strictly decreases (inf -> inf does not).
    """
    progress = task.dist[next_state] < task.dist[state]
    agree = np.where(progress, adv > 0, adv < 0).astype(np.float64)
    agree[adv == 0] = 0.5
    return agree


# -- one training run ----------------------------------------------------------------------------------

@dataclass
class RunResult:
    estimator: str
    seed: int
    episodes: list[int]
    success: list[float]
    final_success: float
    auc: float
    episodes_to_target: float | None
    credit_accuracy: float
    credit_accuracy_solved_groups: float | None
    advantage_seconds: float
    seconds: float
    example_group: dict | None = None


def _moving_average(x: Sequence[float], window: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = x[max(0, i - window + 1):i + 1].mean()
    return out


def train_one(task: Task, estimator: str, seed: int, cfg: DemoConfig, advantages: Callable[..., Any],
              tick: Callable[[], None] | None = None, keep_group: bool = False) -> RunResult:
    """Train a fresh policy with one estimator; returns its curve and metrics."""
    import torch

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    # Levels are drawn from a stream that depends on the seed only, so every estimator sees the same levels.
    level_rng = np.random.default_rng([seed, 7])
    policy = _make_policy(task, cfg.hidden, cfg.policy)
    optimizer = _Adam(policy.parameters(), lr=cfg.learning_rate)
    # The tabular policy reads state ids; the MLP reads the board encoding of the state.
    tokens_t = torch.from_numpy(task.tokens) if cfg.policy == "mlp" else torch.arange(task.next.shape[0])
    options = dict(cfg.options.get(estimator, {}))
    if cfg.threads:
        options["num_threads"] = cfg.threads  # engine threads (graphgpo.advantages keyword)
    episodes, success = [], []
    agree_sum, agree_n, adv_seconds = 0.0, 0, 0.0
    solved_sum, solved_n = 0.0, 0
    example: dict | None = None
    example_score = -1.0
    num_levels = len(task.levels)
    for it in range(cfg.iterations):
        level_ids = level_rng.choice(num_levels, size=cfg.groups, replace=cfg.groups > num_levels)
        batch = _rollout(task, policy, tokens_t, level_ids, cfg.rollouts, gen)
        ta = time.perf_counter()
        adv = np.asarray(advantages(estimator, group=batch.group, trajectory=batch.trajectory,
                                    state=batch.state, next_state=batch.next_state, success=batch.success,
                                    valid=batch.valid, **options), dtype=np.float64)
        adv_seconds += time.perf_counter() - ta
        agree = credit_agreement(task, batch.state, batch.next_state, adv)
        agree_sum += float(agree.sum())
        agree_n += agree.size
        # Steps of groups where some rollout succeeded: the only groups where outcomes carry information.
        solved = np.isin(batch.group, np.unique(batch.group[batch.success]))
        solved_sum += float(agree[solved].sum())
        solved_n += int(solved.sum())
        episodes.append((it + 1) * cfg.episodes_per_iteration)
        success.append(float(batch.episode_success.mean()))
        if keep_group:
            example, example_score = _pick_group(batch, adv, level_ids, it, cfg, example, example_score)
        _ppo_update(policy, optimizer, tokens_t, batch, adv, cfg, gen)
        if tick is not None:
            tick()
    final = _evaluate(task, policy, tokens_t, cfg.eval_rollouts, seed)
    window = max(1, min(5, len(success)))
    smooth = _moving_average(success, window)
    reached = np.nonzero(smooth >= cfg.target)[0]
    return RunResult(estimator=estimator, seed=seed, episodes=episodes, success=success, final_success=final,
                     auc=float(np.mean(success)),
                     episodes_to_target=float(episodes[reached[0]]) if reached.size else None,
                     credit_accuracy=agree_sum / max(1, agree_n),
                     credit_accuracy_solved_groups=solved_sum / solved_n if solved_n else None,
                     advantage_seconds=adv_seconds,
                     seconds=time.perf_counter() - t0, example_group=example)


def _evaluate(task: Task, policy, tokens_t, rollouts: int, seed: int) -> float:
    import torch

    gen = torch.Generator().manual_seed(10_000 + seed)
    batch = _rollout(task, policy, tokens_t, np.arange(len(task.levels)), rollouts, gen)
    return float(batch.episode_success.mean())


def _pick_group(batch: Batch, adv: np.ndarray, level_ids, it: int, cfg: DemoConfig, best, best_score):
    """Keep the most illustrative group seen so far: mixed outcomes and a readable number of states."""
    for g in range(len(level_ids)):
        rows = np.nonzero(batch.group == g)[0]
        wins = batch.success[rows]
        traj = batch.trajectory[rows]
        n_traj = len(np.unique(traj))
        n_win = len(np.unique(traj[wins]))
        if n_win == 0 or n_win == n_traj:
            continue
        nodes = len(np.unique(np.concatenate([batch.state[rows], batch.next_state[rows]])))
        if not 10 <= nodes <= 36:
            continue
        # Balanced outcomes and a graph of about two dozen states make the most readable picture.
        score = (1.0 - abs(n_win / n_traj - 0.5)) - abs(nodes - 22) / 50
        if score > best_score:
            best_score = score
            best = {"iteration": it, "level": int(level_ids[g]),
                    "trajectory": (traj - traj.min()).tolist(), "state": batch.state[rows].tolist(),
                    "next_state": batch.next_state[rows].tolist(), "success": wins.tolist(),
                    "valid": batch.valid[rows].tolist(), "advantage": adv[rows].tolist()}
    return best, best_score


# -- the whole demo ------------------------------------------------------------------------------------

def _summary(values: Sequence[float | None]) -> dict[str, Any]:
    got = [v for v in values if v is not None]
    return {"mean": float(np.mean(got)) if got else None, "std": float(np.std(got)) if got else None,
            "n": len(got), "of": len(values)}


def run_demo(cfg: DemoConfig, advantages: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Train every estimator on every seed, write the figures and JSON to ``cfg.out``; return the results."""
    import torch

    if cfg.quick:
        for k, v in QUICK.items():
            setattr(cfg, k, min(getattr(cfg, k), v))
    unknown = set(cfg.estimators) - set(ESTIMATORS)
    if unknown:
        raise ValueError(f"unknown estimator(s) {sorted(unknown)}; expected some of {ESTIMATORS}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    else:
        torch.set_num_threads(1)  # the model is tiny: threading overhead outweighs any speed-up
    fn = advantages or _advantage_fn()
    t0 = time.perf_counter()
    task = build_task(cfg.env, cfg.num_levels, cfg.level_seed, cfg.max_steps)
    setup_seconds = time.perf_counter() - t0
    total = len(cfg.estimators) * cfg.seeds * cfg.iterations
    bar = _progress(total, cfg.progress)
    runs: dict[str, list[RunResult]] = {}
    for est in cfg.estimators:
        runs[est] = []
        for seed in range(cfg.first_seed, cfg.first_seed + cfg.seeds):
            bar.set_description(f"{est} seed {seed}")
            runs[est].append(train_one(task, est, seed, cfg, fn, tick=lambda: bar.update(1),
                                       keep_group=(est == "graphgpo" or est == cfg.estimators[-1])
                                       and seed == cfg.first_seed))
    bar.close()
    results = _collect(cfg, task, runs, setup_seconds, time.perf_counter() - t0)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results["files"] = _write_outputs(out, cfg, task, runs, results)
    return results


def _progress(total: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is part of the demo extra
        tqdm = None
    if tqdm is None or not enabled:
        class _Null:
            def update(self, n: int = 1) -> None: ...
            def set_description(self, s: str) -> None: ...
            def close(self) -> None: ...
        return _Null()
    return tqdm(total=total, unit="it", dynamic_ncols=True)


def _collect(cfg: DemoConfig, task: Task, runs: dict[str, list[RunResult]], setup: float,
             wall: float) -> dict[str, Any]:
    summary = {}
    for est, rs in runs.items():
        summary[est] = {
            "final_success": _summary([r.final_success for r in rs]),
            "auc": _summary([r.auc for r in rs]),
            "episodes_to_target": _summary([r.episodes_to_target for r in rs]),
            "credit_accuracy": _summary([r.credit_accuracy for r in rs]),
            "credit_accuracy_solved_groups": _summary([r.credit_accuracy_solved_groups for r in rs]),
            "advantage_seconds": _summary([r.advantage_seconds for r in rs]),
        }
    cfg_dict = asdict(cfg)
    cfg_dict["estimators"] = list(cfg.estimators)
    cfg_dict["lr"], cfg_dict["entropy_coef"] = cfg.learning_rate, cfg.entropy  # the values actually used
    return {
        "config": cfg_dict,
        "task": {"env": task.name, "levels": len(task.levels), "states": int(task.next.shape[0]),
                 "max_steps": task.max_steps, "start_distance": task.dist[task.starts].tolist(),
                 "episodes_per_run": cfg.iterations * cfg.episodes_per_iteration},
        "summary": summary,
        "runs": {est: [{k: v for k, v in asdict(r).items() if k != "example_group"} for r in rs]
                 for est, rs in runs.items()},
        "setup_seconds": setup,
        "wall_seconds": wall,
    }


def _fmt(s: dict[str, Any], digits: int = 3, pct: bool = False) -> str:
    if s["mean"] is None:
        return "never"
    scale = 100.0 if pct else 1.0
    text = f"{s['mean'] * scale:.{digits}f} ± {s['std'] * scale:.{digits}f}"
    if s["n"] != s["of"]:
        text += f" ({s['n']}/{s['of']} seeds)"
    return text


def format_table(results: dict[str, Any]) -> str:
    """The results table, one row per estimator (mean ± std over seeds)."""
    cfg = results["config"]
    header = ["estimator", "final success %", "AUC (mean success %)", f"episodes to {cfg['target']:.0%}",
              "credit accuracy %", "in groups with a success %"]
    rows = []
    for est, s in results["summary"].items():
        rows.append([est, _fmt(s["final_success"], 1, True), _fmt(s["auc"], 1, True),
                     _fmt(s["episodes_to_target"], 0), _fmt(s["credit_accuracy"], 1, True),
                     _fmt(s["credit_accuracy_solved_groups"], 1, True)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


# -- figures -------------------------------------------------------------------------------------------

_COLORS = {"grpo": "tab:gray", "gigpo": "tab:blue", "graphgpo": "tab:red"}


def _write_outputs(out: Path, cfg: DemoConfig, task: Task, runs: dict[str, list[RunResult]],
                   results: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    files = {"curves": str(out / "learning_curves.png"), "graph": str(out / "group_graph.png"),
             "json": str(out / "results.json")}
    _plot_curves(runs, cfg, files["curves"])
    example_est = "graphgpo" if "graphgpo" in runs else cfg.estimators[-1]
    example = runs[example_est][0].example_group
    _plot_group(task, example, example_est, files["graph"])
    results = dict(results, files=files, example_group={"estimator": example_est, **(example or {})})
    with open(files["json"], "w") as fh:
        json.dump(results, fh, indent=1, default=_json_default)
    return files


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and math.isinf(x):
        return None
    raise TypeError(type(x))


def _plot_curves(runs: dict[str, list[RunResult]], cfg: DemoConfig, path: str) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for est, rs in runs.items():
        window = max(1, min(5, len(rs[0].success)))
        curves = np.array([_moving_average(r.success, window) for r in rs])
        x = np.asarray(rs[0].episodes)
        mean, std = curves.mean(0), curves.std(0)
        color = _COLORS.get(est)
        auc = np.mean([r.auc for r in rs])
        ax.plot(x, mean, color=color, label=f"{est} (AUC {auc:.2f})")
        ax.fill_between(x, np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), color=color, alpha=0.2)
    ax.axhline(cfg.target, color="k", lw=0.6, ls=":")
    ax.set_xlabel("training episodes")
    ax.set_ylabel(f"success rate (moving avg, {cfg.episodes_per_iteration}-episode batches)")
    ax.set_ylim(0, 1)
    ax.set_title(f"{cfg.env}: mean ± std over {cfg.seeds} seeds")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _group_layout(example: dict) -> tuple[dict, dict, list]:
    """Place nodes by their graph distance to SUCCESS.

    x = -(distance on the group's graph); within a layer, nodes are ordered by the mean height of their
    successors one layer closer (fewer crossings). Nodes that cannot reach SUCCESS fill a block of columns
    on the far left. Returns (positions, graph distances, edges as (state, next, advantage, valid)).
    """
    success_node = "SUCCESS"
    edges = []
    traj = example["trajectory"]
    for i, (s, t) in enumerate(zip(example["state"], example["next_state"], strict=True)):
        last = i + 1 == len(traj) or traj[i + 1] != traj[i]
        if last and example["success"][i]:
            t = success_node
        edges.append((s, t, example["advantage"][i], example["valid"][i]))
    incoming: dict[Any, list] = {success_node: []}
    outgoing: dict[Any, list] = {success_node: []}
    for s, t, _, _ in edges:
        for v in (s, t):
            incoming.setdefault(v, [])
            outgoing.setdefault(v, [])
        incoming[t].append(s)
        outgoing[s].append(t)
    dist = {success_node: 0}
    layers: list[list] = [[success_node]]
    while layers[-1]:
        new: list = []
        for v in layers[-1]:
            for u in incoming[v]:
                if u not in dist:
                    dist[u] = len(layers)
                    new.append(u)
        layers.append(new)
    pos: dict[Any, tuple[float, float]] = {success_node: (0.0, 0.0)}
    for d, layer in enumerate(layers[1:-1], start=1):
        def height(v, d=d):
            ys = [pos[t][1] for t in outgoing[v] if dist.get(t) == d - 1]
            return sum(ys) / len(ys) if ys else 0.0

        layer.sort(key=height)
        for k, v in enumerate(layer):
            pos[v] = (-float(d), k - (len(layer) - 1) / 2)
    stuck = [v for v in incoming if v not in dist]
    rows = max(4, max((len(layer) for layer in layers), default=1))
    for k, v in enumerate(stuck):
        col, row = divmod(k, rows)
        pos[v] = (-float(len(layers) - 1) - 0.5 * col, row - (min(rows, len(stuck)) - 1) / 2)
    return pos, dist, edges


def _plot_group(task: Task, example: dict | None, estimator: str, path: str) -> None:
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


# -- command line ------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``graphgpo demo``."""
    d = DemoConfig()
    parser.add_argument("--env", choices=sorted(_ENV_SETTINGS), default=d.env, help="bundled environment")
    parser.add_argument("--episodes", type=int, default=d.episodes,
                        help="episode budget per estimator and seed (default %(default)s)")
    parser.add_argument("--seeds", type=int, default=d.seeds, help="seeds per estimator (default %(default)s)")
    parser.add_argument("--estimators", default=",".join(d.estimators),
                        help="comma-separated subset of grpo,gigpo,graphgpo")
    parser.add_argument("--out", default=d.out, help="output directory for the PNGs and results.json")
    parser.add_argument("--quick", action="store_true", help="tiny budget (smoke test, a few seconds)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and engine threads (default: 1 for torch, the model is tiny; engine default)")
    parser.add_argument("--policy", choices=("mlp", "tabular"), default=d.policy,
                        help="mlp: MLP over the one-hot board text; tabular: one softmax per state")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate, shared by all estimators (default: tuned value for --policy)")
    parser.add_argument("--target", type=float, default=d.target, help="success rate for 'episodes to target'")
    parser.add_argument("--omega", type=float, default=d.options["graphgpo"]["omega"], help="GraphGPO omega")
    parser.add_argument("--gamma", type=float, default=d.options["gigpo"]["gamma"], help="GiGPO gamma")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    estimators = tuple(e.strip() for e in args.estimators.split(",") if e.strip())
    cfg = DemoConfig(env=args.env, episodes=args.episodes, seeds=args.seeds, estimators=estimators, out=args.out,
                     quick=args.quick, threads=args.threads, policy=args.policy, target=args.target,
                     progress=not args.no_progress)
    cfg.lr = args.lr
    cfg.options["graphgpo"]["omega"] = args.omega
    cfg.options["gigpo"]["gamma"] = args.gamma
    return cfg


def main(args: argparse.Namespace) -> int:
    """Run the demo from parsed arguments; print the table; return an exit status."""
    cfg = config_from_args(args)
    results = run_demo(cfg)
    print()
    print(f"{cfg.env}: {results['task']['levels']} levels, {results['task']['episodes_per_run']} episodes per run, "
          f"{cfg.seeds} seeds, groups of {cfg.rollouts} rollouts x {cfg.groups} levels per iteration")
    print(format_table(results))
    print("mean ± std over seeds. AUC = mean training success. Credit accuracy = share of steps whose advantage "
          "sign\nmatches true progress (exact optimal distance to the goal decreases); see `graphgpo.demo` docs.")
    print(f"\nwall time {results['wall_seconds']:.1f} s; wrote " + ", ".join(results["files"].values()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="python -m graphgpo.demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(main(parser.parse_args()))
