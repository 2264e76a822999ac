"""One training run: a small policy trained with PPO-clip on per-step advantages of one estimator.

The policy is an MLP over a one-hot encoding of the board text (or a table with one softmax per state; no
LLM), trained with the PPO-clip objective used by GiGPO and GraphGPO. Each iteration draws ``groups``
levels and plays ``rollouts`` episodes from each level's start state; the episodes of one level form one
group. Everything but the advantages -- policy, optimizer, hyperparameters, episode budget, levels, the
level order and the seeds -- is identical across estimators. torch is imported only when a run starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import DemoConfig, Estimator
from .task import Task, credit_agreement

__all__ = ["RunResult", "train_one", "moving_average"]


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
    seconds: float  # wall time of the run
    cpu_seconds: float  # CPU time of the process during the run (every thread)
    example_group: dict | None = None


def moving_average(x: Sequence[float], window: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = x[max(0, i - window + 1):i + 1].mean()
    return out


def train_one(task: Task, row: Estimator, seed: int, cfg: DemoConfig, advantages: Callable[..., Any],
              keep_group: bool = False, engine_threads: int | None = None,
              memory_factory: Callable[[], Any] | None = None) -> RunResult:
    """Train a fresh policy with one estimator row; returns its curve and metrics.

    ``engine_threads`` is the engine's ``num_threads`` (None: ``cfg.threads``, else the engine default;
    results do not depend on it). A row with ``memory`` gets one memory for the whole run from
    ``memory_factory`` (default :class:`graphgpo.GraphMemory`), passed to every call with ``task`` = the
    level of each row's group.
    """
    import torch

    t0, c0 = time.perf_counter(), time.process_time()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    # Levels are drawn from a stream that depends on the seed only, so every estimator sees the same levels.
    level_rng = np.random.default_rng([seed, 7])
    policy = _make_policy(task, cfg.hidden, cfg.policy)
    optimizer = _Adam(policy.parameters(), lr=cfg.learning_rate)
    # The tabular policy reads state ids; the MLP reads the board encoding of the state.
    tokens_t = torch.from_numpy(task.tokens) if cfg.policy == "mlp" else torch.arange(task.next.shape[0])
    options = dict(row.options)
    threads = engine_threads or cfg.threads
    if threads:
        options["num_threads"] = threads  # engine threads (graphgpo.advantages keyword)
    memory = (memory_factory or _graph_memory)() if row.memory else None
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
        if memory is not None:
            options.update(memory=memory, task=level_ids[batch.group])
        adv = np.asarray(advantages(row.method, group=batch.group, trajectory=batch.trajectory,
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
    final = _evaluate(task, policy, tokens_t, cfg.eval_rollouts, seed)
    window = max(1, min(5, len(success)))
    smooth = moving_average(success, window)
    reached = np.nonzero(smooth >= cfg.target)[0]
    return RunResult(estimator=row.label, seed=seed, episodes=episodes, success=success, final_success=final,
                     auc=float(np.mean(success)),
                     episodes_to_target=float(episodes[reached[0]]) if reached.size else None,
                     credit_accuracy=agree_sum / max(1, agree_n),
                     credit_accuracy_solved_groups=solved_sum / solved_n if solved_n else None,
                     advantage_seconds=adv_seconds,
                     seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0,
                     example_group=example)


def _graph_memory() -> Any:
    """A fresh :class:`graphgpo.GraphMemory` (SPEC "Graph memory across calls"), unbounded."""
    import graphgpo

    return graphgpo.GraphMemory()


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
