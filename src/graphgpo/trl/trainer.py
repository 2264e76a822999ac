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
from ._tokens import assign_steps, batch_action_segments, layout_advantages, segment_values
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
                "arguments plus the estimator options (advantage_estimator, omega, ...)"
            )
        super().__init__(model, reward_funcs, args=args, **kwargs)
        self._graphgpo_rewards: torch.Tensor | None = None
        self._graphgpo_completions: list | None = None
        self._check_trace_source()

    def _check_trace_source(self) -> None:
        """Fail at construction, not after the first (expensive) generation, when no traces can come.

        A `rollout_func` can only be checked on its first output; environments are probed on the
        instances TRL created while inspecting their tools.
        """
        if self.args.advantage_estimator == "grpo" or self.rollout_func is not None:
            return
        pools = getattr(self, "_environment_pool", None) or {}
        lacking = [name for name, pool in pools.items() if pool and not hasattr(pool[0], TRACE_KEY)]
        if self.environment_factories is None or lacking:
            where = (
                f"the environment {type(pools[lacking[0]][0]).__name__} has no '{TRACE_KEY}' attribute"
                if lacking
                else "there is neither an environment_factory nor a rollout_func"
            )
            raise ValueError(
                f"advantage_estimator={self.args.advantage_estimator!r} needs per-step traces, but {where}. "
                f"Keep '{TRACE_KEY}' and '{SUCCESS_KEY}' on the environment (docs/design.md), return them "
                "from rollout_func, or use advantage_estimator='grpo'."
            )

    # -- capture what the parent computes but does not return ----------------------------------------

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        """Parent behaviour; also keeps the parsed completions (tool calls per turn) and the summed reward."""
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
        # A bad trace on one rank must not leave the others waiting in the gather: every rank sends its
        # records or its error, and all of them raise the first error together.
        try:
            traces, successes, calls = self._local_episodes(inputs)
            records: list[EpisodeRecord] | BaseException = records_from_traces(traces, successes)
        except (TypeError, ValueError) as err:
            records, calls = err, []
        rewards = self._graphgpo_rewards
        if rewards is None:
            raise RuntimeError(
                "GRPOTrainer did not call _calculate_rewards; this TRL version is not supported"
            )
        advantages, local_log, metrics = self._step_advantages(
            records, rewards.numpy().astype(np.float64), calls, out, num_generations
        )
        out["advantages"] = advantages
        self._log_graphgpo(mode, metrics, local_log)
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
                f"instances keep '{TRACE_KEY}' and '{SUCCESS_KEY}' attributes (see docs/design.md)"
            )
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
            out.append(
                [
                    len(m.get("tool_calls") or [])
                    for m in messages
                    if isinstance(m, dict) and m.get("role", "assistant") == "assistant"
                ]
            )
        return out

    def _step_advantages(
        self,
        records: list[EpisodeRecord] | BaseException,
        rewards: np.ndarray,
        calls: Sequence[list[int] | None],
        out: dict,
        num_generations: int,
    ):
        """Gather the batch's records, run the estimator, and lay this process's slice out per token."""
        gathered = gather_object([records])
        for rank, part in enumerate(gathered):
            if isinstance(part, BaseException):
                prefix = f"rank {rank}: " if len(gathered) > 1 else ""
                raise type(part)(f"{prefix}{part}") from (part if part is records else None)
        local = len(records)
        all_records = [r for part in gathered for r in part]
        start = self.accelerator.process_index * local
        if len(all_records) != len(rewards) or start + local > len(all_records):
            raise RuntimeError(
                f"rank {self.accelerator.process_index}: {local} local rollouts, "
                f"{len(all_records)} gathered, {len(rewards)} rewards"
            )
        result: BatchAdvantages = batch_advantages(
            all_records,
            rewards,
            num_generations=num_generations,
            method=self.args.advantage_estimator,
            options=self.args.estimator_options(),
            episode_reward=self.args.episode_reward,
        )

        completion_mask = out["completion_mask"].detach().cpu().numpy()
        tool_mask = out.get("tool_mask")
        tool_mask = tool_mask.detach().cpu().numpy() if tool_mask is not None else None
        all_spans = batch_action_segments(completion_mask, tool_mask)
        values = []
        untokenized = 0
        for b, row_spans in enumerate(all_spans):
            g = start + b
            steps = result.steps[g]
            owned = assign_steps(len(row_spans), len(steps), None if result.synthetic[g] else calls[b])
            untokenized += len(steps) - sum(len(r) for r in owned)
            values.append(segment_values(steps, owned, result.text[g]))
        advantages = layout_advantages(completion_mask.shape, all_spans, values)
        action = (
            completion_mask.astype(bool) if tool_mask is None else (completion_mask * tool_mask).astype(bool)
        )
        local_log = _local_log(advantages, action, untokenized)
        tensor = torch.from_numpy(advantages).to(out["completion_ids"].device)
        return tensor, local_log, dict(result.metrics)

    # -- logging ---------------------------------------------------------------------------------------

    def _log_graphgpo(self, mode: str, metrics: dict[str, float], local_log: np.ndarray) -> None:
        """Graph and advantage statistics into TRL's metrics; per-rollout means into the completions table."""
        # One collective for all processes' token statistics and per-rollout means (see _local_log).
        rows = self.accelerator.gather(torch.from_numpy(local_log).to(self.accelerator.device).view(1, -1))
        rows = rows.view(-1, local_log.shape[0]).double().cpu().numpy()
        untokenized, total, squares, count = rows[:, :4].sum(axis=0)
        metrics["graph/untokenized_steps"] = float(untokenized)
        if count > 0:
            mean = total / count
            metrics["advantages/token_mean"] = float(mean)
            metrics["advantages/token_std"] = float(max(squares / count - mean * mean, 0.0) ** 0.5)
            metrics["advantages/token_min"] = float(rows[:, 4].min())
            metrics["advantages/token_max"] = float(rows[:, 5].max())
        for name, value in metrics.items():
            self._metrics[mode][name].append(value)
        # The parent logged one scalar advantage per rollout; show the ones this trainer used instead (the
        # mean over each completion's action tokens), so the completions table matches the update.
        means = rows[:, _LOG_HEAD:].reshape(-1).tolist()
        logged = self._logs["advantages"]
        for _ in range(min(len(means), len(logged))):
            logged.pop()
        logged.extend(means)


_LOG_HEAD = 6


def _local_log(advantages: np.ndarray, action: np.ndarray, untokenized: int) -> np.ndarray:
    """This process's log row: untokenized steps, then sum, sum of squares, count, min and max of the
    action-token advantages, then each rollout's mean action-token advantage (0 without action tokens)."""
    values = advantages[action].astype(np.float64)
    counts = action.sum(axis=1)
    means = np.where(counts > 0, (advantages * action).sum(axis=1) / np.maximum(counts, 1), 0.0)
    head = [
        untokenized,
        values.sum(),
        (values * values).sum(),
        values.size,
        values.min() if values.size else math.inf,
        values.max() if values.size else -math.inf,
    ]
    return np.concatenate([np.asarray(head, dtype=np.float64), means.astype(np.float64)])
