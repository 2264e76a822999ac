"""`GraphGPOTrainer`: TRL's `GRPOTrainer` with per-step (graph) advantages written per token.

The trainer stays a thin wrapper (TRL removed subclasses that copied `_generate_and_score_completions`,
because the copies drifted): it calls the parent method, reads the step traces of the rollouts it just
produced, and replaces the scalar `advantages` with a `(B, T)` tensor. TRL's loss accepts that shape.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather_object
from trl import GRPOTrainer

from ._steps import (
    SUCCESS_KEY,
    TRACE_KEY,
    BatchAdvantages,
    EpisodeRecord,
    batch_advantages,
    records_from_traces,
)
from ._tokens import action_segments, assign_steps, layout_advantages, segment_values
from .config import GraphGPOConfig

__all__ = ["GraphGPOTrainer"]


class GraphGPOTrainer(GRPOTrainer):
    """GRPO with step-level credit assignment (GraphGPO, GiGPO or GRPO per SPEC.md) for multi-turn agents.

    Takes the arguments of `trl.GRPOTrainer`; `args` must be a [`GraphGPOConfig`] (default: one with TRL's
    defaults and `advantage_estimator="graphgpo"`).

    **Where the steps come from.** Each rollout is one episode; its steps are read, in this order, from

    1. the `rollout_func` output: an extra key ``graphgpo_trace`` (one list per rollout of
       ``(state_key, next_state_key, valid)`` steps, optionally ``(..., action_key)``) and optionally
       ``graphgpo_success`` (one bool per rollout); the turns are the runs of 1 in its ``env_mask``;
    2. the environment instances of `environment_factory`: their attributes ``graphgpo_trace`` and
       ``graphgpo_success`` (protocol in docs/design.md); the turns are the runs of 1 in TRL's
       ``tool_mask``, and the tool calls of each assistant message tell how many steps a turn made.

    Keys are str, int or bytes and are compared by exact equality (through 128-bit fingerprints).
    Success comes from ``graphgpo_success`` when given, else from TRL's weighted reward being > 0.
    With ``advantage_estimator="grpo"`` traces are optional (a rollout without one is a single step).

    **From steps to tokens.** Turn ``j`` owns the steps its tool calls produced (one per call, in order) and
    all its tokens carry the mean advantage of those steps. A turn that owns no step — the final answer
    after the last call, a turn cut by the length limit, a completion that never called a tool — carries
    the episode advantage (``episode_weight * A_E``, with ``A_E`` SPEC's episode advantage of the
    trajectory, validity ignored). An episode with no step at all enters the graph as one "stop" step
    from the group's initial state to a terminal of its own, and its first turn owns that step. Steps
    whose turn is not in the tokens (a tool ran but TRL rolled its result back for length) stay in the
    graph and carry no tokens. Tool results, template glue and padding carry exactly 0.

    **Processes.** Groups are contiguous blocks of `num_generations` rollouts in process order (as in
    GRPO). Every rank gathers the other ranks' fingerprints and flags (not texts), computes the whole
    batch, and keeps its slice, so the result equals a single-process run on the same rollouts.
    """

    _tag_names = ["trl", "grpo", "graphgpo"]
    _name = "GraphGPO"

    def __init__(self, model, reward_funcs=None, args: GraphGPOConfig | None = None, **kwargs):
        if args is None:
            model_name = model if isinstance(model, str) else model.config._name_or_path
            args = GraphGPOConfig(f"{str(model_name).split('/')[-1] or 'model'}-GraphGPO")
        elif not isinstance(args, GraphGPOConfig):
            raise TypeError(
                f"GraphGPOTrainer needs a GraphGPOConfig, got {type(args).__name__}; build one with the same "
                "arguments plus the estimator options (advantage_estimator, omega, ...)")
        super().__init__(model, reward_funcs, args=args, **kwargs)
        self._graphgpo_rewards: torch.Tensor | None = None
        self._graphgpo_completions: list | None = None

    # -- capture what the parent computes but does not return ----------------------------------------

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        """Parent behaviour; also keeps the parsed completions (tool calls per turn) and the gathered reward."""
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        reward = (rewards_per_func * weights).nansum(dim=1)
        # A rollout no reward function scored stays NaN (as in the parent's baseline): no reward evidence.
        reward[torch.isnan(rewards_per_func).all(dim=1)] = torch.nan
        self._graphgpo_rewards = reward.detach().cpu()
        self._graphgpo_completions = completions
        return rewards_per_func

    # -- the override ----------------------------------------------------------------------------------

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, torch.Tensor | Any]:
        out = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        num_generations = self.num_generations if mode == "train" else self.num_generations_eval
        traces, successes, calls = self._local_episodes(inputs)
        records = records_from_traces(traces, successes)
        rewards = self._graphgpo_rewards
        if rewards is None:
            raise RuntimeError("GRPOTrainer did not call _calculate_rewards; this TRL version is not supported")
        advantages, local_means, local_stats, metrics = self._step_advantages(
            records, rewards.numpy().astype(np.float64), calls, out, num_generations)
        out["advantages"] = advantages
        self._log_graphgpo(mode, metrics, local_means, local_stats)
        self._graphgpo_rewards = None
        self._graphgpo_completions = None
        return out

    def _local_episodes(self, inputs: list[dict[str, Any]]):
        """This process's traces, success flags and tool calls per turn (None where unknown)."""
        n = len(inputs)
        if any(TRACE_KEY in x for x in inputs):
            traces = [x.get(TRACE_KEY) for x in inputs]
            successes = [x.get(SUCCESS_KEY) for x in inputs]
            # rollout_func owns the tokens: the default is one step per env_mask segment.
            return traces, successes, [None] * n
        envs = self.environments
        if envs is not None and all(hasattr(e, TRACE_KEY) for e in envs):
            traces = [list(getattr(e, TRACE_KEY)) for e in envs]
            successes = [getattr(e, SUCCESS_KEY, None) for e in envs]
            return traces, successes, self._calls_per_turn(n)
        if self.args.advantage_estimator != "grpo":
            raise ValueError(
                f"advantage_estimator={self.args.advantage_estimator!r} needs step traces: return "
                f"'{TRACE_KEY}' (and '{SUCCESS_KEY}') from rollout_func, or use an environment_factory whose "
                f"instances keep '{TRACE_KEY}' and '{SUCCESS_KEY}' attributes (see docs/design.md)")
        return [None] * n, [None] * n, [None] * n

    def _calls_per_turn(self, n: int) -> list[list[int] | None]:
        """Tool calls emitted by each assistant message of each rollout, from TRL's parsed completions."""
        completions = self._graphgpo_completions
        if not self.tools or completions is None or len(completions) != n:
            return [None] * n
        out: list[list[int] | None] = []
        for messages in completions:
            if not isinstance(messages, list):
                out.append(None)
                continue
            out.append([len(m.get("tool_calls") or []) for m in messages
                        if isinstance(m, dict) and m.get("role", "assistant") == "assistant"])
        return out

    def _step_advantages(self, records: list[EpisodeRecord], rewards: np.ndarray,
                         calls: Sequence[list[int] | None], out: dict, num_generations: int):
        """Gather the batch's records, run the estimator, and lay this process's slice out per token."""
        local = len(records)
        gathered = gather_object([records])
        all_records = [r for part in gathered for r in part]
        start = self.accelerator.process_index * local
        if len(all_records) != len(rewards) or start + local > len(all_records):
            raise RuntimeError(f"rank {self.accelerator.process_index}: {local} local rollouts, "
                               f"{len(all_records)} gathered, {len(rewards)} rewards")
        result: BatchAdvantages = batch_advantages(
            all_records, rewards, num_generations=num_generations, method=self.args.advantage_estimator,
            options=self.args.estimator_options(), episode_reward=self.args.episode_reward)

        completion_mask = out["completion_mask"].detach().cpu().tolist()
        tool_mask = out.get("tool_mask")
        tool_mask = tool_mask.detach().cpu().tolist() if tool_mask is not None else [None] * local
        spans, values = [], []
        untokenized = 0
        for b in range(local):
            g = start + b
            row_spans = action_segments(completion_mask[b], tool_mask[b])
            steps = result.steps[g]
            owned = assign_steps(len(row_spans), len(steps), None if result.synthetic[g] else calls[b])
            untokenized += len(steps) - sum(len(r) for r in owned)
            spans.append(row_spans)
            values.append(segment_values(steps, owned, result.text[g]))
        shape = tuple(out["completion_ids"].shape)
        advantages = layout_advantages(shape, spans, values, device=out["completion_ids"].device)
        metrics = dict(result.metrics)
        metrics["graph/untokenized_steps"] = float(untokenized)
        return advantages, _token_means(advantages, spans), _token_stats(advantages, spans), metrics

    # -- logging ---------------------------------------------------------------------------------------

    def _log_graphgpo(self, mode: str, metrics: dict[str, float], local_means: torch.Tensor,
                      local_stats: torch.Tensor) -> None:
        """Graph and advantage statistics into TRL's metrics; per-rollout means into the completions table."""
        device = self.accelerator.device
        untokenized = self.accelerator.gather(torch.tensor([metrics.pop("graph/untokenized_steps")], device=device))
        metrics["graph/untokenized_steps"] = float(untokenized.sum().item())
        for name, value in metrics.items():
            self._metrics[mode][name].append(value)
        means = self.accelerator.gather(local_means.to(device)).float().cpu()
        stats = self.accelerator.gather(local_stats.to(device).view(1, -1)).view(-1, 5).double().cpu()
        count = float(stats[:, 2].sum())
        if count > 0:
            mean = float(stats[:, 0].sum()) / count
            var = max(float(stats[:, 1].sum()) / count - mean * mean, 0.0)
            self._metrics[mode]["advantages/token_mean"].append(mean)
            self._metrics[mode]["advantages/token_std"].append(var**0.5)
            self._metrics[mode]["advantages/token_min"].append(float(stats[:, 3].min()))
            self._metrics[mode]["advantages/token_max"].append(float(stats[:, 4].max()))
        # The parent logged one scalar advantage per rollout; show the ones this trainer used instead (the
        # mean over each completion's action tokens), so the completions table matches the update.
        logged = self._logs["advantages"]
        for _ in range(min(len(means), len(logged))):
            logged.pop()
        logged.extend(means.tolist())


def _token_means(advantages: torch.Tensor, spans: list[list[tuple[int, int]]]) -> torch.Tensor:
    """Mean advantage over each row's action tokens (0 for a row without any)."""
    means = []
    for b, row in enumerate(spans):
        count = sum(end - start for start, end in row)
        total = float(advantages[b].sum().item())
        means.append(total / count if count else 0.0)
    return torch.tensor(means, dtype=torch.float32)


def _token_stats(advantages: torch.Tensor, spans: list[list[tuple[int, int]]]) -> torch.Tensor:
    """(sum, sum of squares, count, min, max) of the action-token advantages of this process."""
    values = [advantages[b, start:end] for b, row in enumerate(spans) for start, end in row]
    flat = torch.cat(values).double().cpu() if values else torch.zeros(0, dtype=torch.float64)
    if flat.numel() == 0:
        return torch.tensor([0.0, 0.0, 0.0, math.inf, -math.inf], dtype=torch.float64)
    return torch.tensor([flat.sum(), (flat * flat).sum(), flat.numel(), flat.min(), flat.max()], dtype=torch.float64)
