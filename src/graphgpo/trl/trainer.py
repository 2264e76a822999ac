"""`GraphGPOTrainer`: TRL's `GRPOTrainer` with per-step (graph) advantages written per token.

The trainer stays a thin wrapper (TRL removed subclasses that copied `_generate_and_score_completions`,
because the copies drifted): it calls the parent method, reads the step traces of the rollouts it just
produced, and replaces the scalar `advantages` with a `(B, T)` tensor. TRL's loss accepts that shape.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather_object
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint
from trl import GRPOTrainer

from ._calls import CallLog, TurnSteps, record_tool_calls, turn_steps
from ._memory import load_memory, new_memory, save_memory, task_keys
from ._steps import (
    SUCCESS_KEY,
    TRACE_KEY,
    BatchAdvantages,
    EpisodeRecord,
    batch_advantages,
    records_from_traces,
)
from ._tokens import action_spans, turn_advantages
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
       ``graphgpo_success`` (protocol in the user guide, ``graphgpo docs guide``); the turns are the runs of 1 in TRL's
       ``tool_mask``, and each turn owns exactly the trace steps its own tool calls appended (the trainer
       watches the tool methods while TRL's tool loop runs). A call that failed (unknown tool, wrong
       arguments, the tool raised before stepping) or never ran (iteration limit) owns no step, so the
       turns after it keep their own steps. A trace step that no tool call appended is a mismatch between
       the trace and the turns: it stays in the graph without tokens, with a `RuntimeWarning` and the
       metric ``graph/unattributed_steps``.

    Keys are str, int or bytes and are compared by exact equality (through 128-bit fingerprints); with
    ``merge="similar"`` they must be str (or bytes) texts, and states whose difflib ratio reaches
    ``similarity`` share a node (SPEC "Merging similar states").
    Success comes from ``graphgpo_success`` when given, else from TRL's weighted reward being > 0. The
    episode reward is TRL's weighted reward when the trainer was given ``reward_funcs``, else
    ``success_reward`` on success (``episode_reward="auto"``; see `GraphGPOConfig`).
    With ``advantage_estimator="grpo"`` traces are optional (a rollout without one is a single step).

    **From steps to tokens.** Turn ``j`` owns the steps its tool calls produced (with a `rollout_func`: one
    step per turn, in order) and all its tokens carry the mean advantage of those steps. A turn that owns
    no step — the final answer after the last call, a turn whose calls failed, a turn cut by the length
    limit, a completion that never called a tool — carries
    the episode advantage (``episode_weight * A_E``, with ``A_E`` SPEC's episode advantage of the
    trajectory, validity ignored). An episode with no step at all enters the graph as one "stop" step
    from the group's initial state to a terminal of its own, and its first turn owns that step. Steps
    whose turn is not in the tokens (a tool ran but TRL rolled its result back for length) stay in the
    graph and carry no tokens. Tool results, template glue and padding carry exactly 0.

    **Processes.** Groups are contiguous blocks of `num_generations` rollouts in process order (as in
    GRPO). Every rank gathers the other ranks' fingerprints and flags (and, with ``merge="similar"``, the
    state texts), computes the whole batch, and keeps its slice, so the result equals a single-process run
    on the same rollouts.

    **Graph memory** (``graph_memory=True``; SPEC "Graph memory across calls"). The trainer keeps one
    `graphgpo.GraphMemory` with the config's bounds: each training batch's graphs also hold the edges of
    earlier batches of the same task (the prompt, or the ``task_column`` value), so a task whose rollouts all
    failed this time still gets step credit. Every rank computes the same calls and so holds the same memory;
    it is saved as ``graphgpo_memory.bin`` in every checkpoint directory and restored by
    ``train(resume_from_checkpoint=...)``. Evaluation batches neither read nor change it.
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
        self._episode_reward = _resolve_episode_reward(args.episode_reward, reward_funcs)
        self._reward_choice_warned = False
        self._graphgpo_rewards: torch.Tensor | None = None
        self._graphgpo_completions: list | None = None
        self._graphgpo_calls: list[list[CallLog]] | None = None
        self._graph_memory = new_memory(args)
        self._check_trace_source()
        pools = getattr(self, "_environment_pool", None) or {}
        if any(pool and hasattr(pool[0], SUCCESS_KEY) for pool in pools.values()):
            self._warn_reward_choice()

    def _warn_reward_choice(self) -> None:
        """Say once that both reward functions and success flags exist and which one is the episode reward."""
        if self._reward_choice_warned or self.args.episode_reward != "auto":
            return
        self._reward_choice_warned = True
        if self._episode_reward == "reward_funcs":
            warnings.warn(
                f"episode_reward='auto': the trainer has reward_funcs and the rollouts report '{SUCCESS_KEY}'; "
                "the episode reward is TRL's weighted reward (reward_funcs plus any environment get_reward), "
                f"and '{SUCCESS_KEY}' only decides which rollouts reach the graph's SUCCESS node. Set "
                "episode_reward='reward_funcs' to keep this without the warning, or 'success' to score "
                "episodes by success_reward alone (the SPEC default).",
                UserWarning,
                stacklevel=3,
            )

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
                f"Keep '{TRACE_KEY}' and '{SUCCESS_KEY}' on the environment (see `graphgpo docs guide`), return them "
                "from rollout_func, or use advantage_estimator='grpo'."
            )

    # -- capture what the parent computes but does not return ----------------------------------------

    def _tool_call_loop(self, prompts, prompt_ids, completion_ids, completions, *args, **kwargs):
        """Parent behaviour, with every traced environment's tools watched (see `graphgpo.trl._calls`)."""
        if self.environments:
            self._graphgpo_calls = record_tool_calls(
                (self._sync_tool_dicts, self._async_tool_dicts), self.environments, completions, TRACE_KEY
            )
        return super()._tool_call_loop(prompts, prompt_ids, completion_ids, completions, *args, **kwargs)

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
        self._graphgpo_calls = None
        out = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        num_generations = self.num_generations if mode == "train" else self.num_generations_eval
        # A bad trace on one rank must not leave the others waiting in the gather: every rank sends its
        # records or its error, and all of them raise the first error together.
        try:
            traces, successes, turns = self._local_episodes(inputs)
            if any(s is not None for s in successes):
                self._warn_reward_choice()
            records: list[EpisodeRecord] | BaseException = records_from_traces(
                traces, successes, texts=self.args.estimator_options().get("merge") == "similar"
            )
            memory = self._graph_memory if mode == "train" else None
            if memory is not None:
                for record, task in zip(records, task_keys(inputs, self.args.task_column), strict=True):
                    record.task = int(task)
        except (TypeError, ValueError) as err:
            records, turns = err, []
        rewards = self._graphgpo_rewards
        if rewards is None:
            raise RuntimeError(
                "GRPOTrainer did not call _calculate_rewards; this TRL version is not supported"
            )
        advantages, local_log, metrics = self._step_advantages(
            records, rewards.numpy().astype(np.float64), turns, out, num_generations,
            memory=self._graph_memory if mode == "train" else None,
        )
        out["advantages"] = advantages
        self._log_graphgpo(mode, metrics, local_log)
        self._graphgpo_rewards = None
        self._graphgpo_completions = None
        self._graphgpo_calls = None
        return out

    def _local_episodes(self, inputs: list[dict[str, Any]]):
        """This process's traces, success flags and turn-to-step ownership (None where the turns take one
        step each, in order: `rollout_func` output, or no tool loop)."""
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
            return traces, successes, self._turn_steps(traces)
        if self.args.advantage_estimator != "grpo":
            raise ValueError(
                f"advantage_estimator={self.args.advantage_estimator!r} needs step traces: return "
                f"'{TRACE_KEY}' (and '{SUCCESS_KEY}') from rollout_func, or use an environment_factory whose "
                f"instances keep '{TRACE_KEY}' and '{SUCCESS_KEY}' attributes (see `graphgpo docs guide`)"
            )
        return [None] * n, [None] * n, [None] * n

    def _turn_steps(self, traces: list[list]) -> list[TurnSteps | None]:
        """Each rollout's turn-to-step ownership, from the tool calls watched during TRL's tool loop."""
        n = len(traces)
        completions, logs = self._graphgpo_completions, self._graphgpo_calls
        if completions is None or logs is None or len(completions) != n or len(logs) != n:
            return [None] * n
        out: list[TurnSteps | None] = []
        for messages, log, trace in zip(completions, logs, traces, strict=True):
            out.append(turn_steps(messages, log, len(trace)) if isinstance(messages, list) else None)
        unattributed = [b for b, t in enumerate(out) if t is not None and t.unattributed]
        if unattributed:
            b = unattributed[0]
            warnings.warn(
                f"{len(unattributed)} rollout(s) have trace steps that no tool call appended (rollout {b}: "
                f"{out[b].unattributed} of {len(traces[b])} steps); they stay in the graph but carry no "
                f"tokens. An environment must clear '{TRACE_KEY}' in reset() and append to it only inside "
                "its tool methods (see `graphgpo docs guide`).",
                RuntimeWarning,
                stacklevel=2,
            )
        return out

    def _step_advantages(
        self,
        records: list[EpisodeRecord] | BaseException,
        rewards: np.ndarray,
        turns: Sequence[TurnSteps | None],
        out: dict,
        num_generations: int,
        memory=None,
    ):
        """Gather the batch's records, run the estimator (reading and updating ``memory``, if any), and lay
        this process's slice out per token."""
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
            episode_reward=self._episode_reward,
            memory=memory,
        )
        if memory is not None:
            stats = memory.stats()
            result.metrics["graph/memory_edges"] = float(stats["edges"])
            result.metrics["graph/memory_tasks"] = float(stats["tasks"])

        completion_mask = out["completion_mask"].detach().cpu().numpy()
        tool_mask = out.get("tool_mask")
        tool_mask = tool_mask.detach().cpu().numpy() if tool_mask is not None else None
        mine = slice(start, start + local)
        advantages, num_owned = turn_advantages(
            completion_mask.shape,
            action_spans(completion_mask, tool_mask),
            result.rows,
            result.first_row[mine],
            result.num_rows[mine],
            [None if result.synthetic[start + b] or t is None else t.owned for b, t in enumerate(turns)],
            result.text[mine],
        )
        counts = np.zeros(len(_CALL_COUNTS))
        counts[0] = int(result.num_rows[mine].sum()) - num_owned
        for t in turns:
            counts[1:] += _call_counts(t)
        action = (
            completion_mask.astype(bool) if tool_mask is None else (completion_mask * tool_mask).astype(bool)
        )
        local_log = _local_log(advantages, action, counts)
        tensor = torch.from_numpy(advantages).to(out["completion_ids"].device)
        return tensor, local_log, dict(result.metrics)

    # -- graph memory in checkpoints -------------------------------------------------------------------

    def _save_checkpoint(self, model, trial):
        """Parent behaviour; the graph memory goes into the checkpoint directory first (so a checkpoint whose
        trainer state exists has its memory too)."""
        if self._graph_memory is not None and self.args.should_save:
            folder = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            save_memory(self._graph_memory, os.path.join(self._get_output_dir(trial=trial), folder))
        super()._save_checkpoint(model, trial)

    def train(self, resume_from_checkpoint=None, *args, **kwargs):
        """Parent behaviour; on resume, every rank first reads the checkpoint's graph memory back."""
        if self._graph_memory is not None and resume_from_checkpoint not in (None, False):
            checkpoint = resume_from_checkpoint
            if checkpoint is True:
                checkpoint = get_last_checkpoint(self.args.output_dir)  # None: the parent raises
            if checkpoint is not None:
                self._graph_memory = load_memory(str(checkpoint), self.args, fallback=new_memory(self.args))
        return super().train(resume_from_checkpoint, *args, **kwargs)

    # -- logging ---------------------------------------------------------------------------------------

    def _log_graphgpo(self, mode: str, metrics: dict[str, float], local_log: np.ndarray) -> None:
        """Graph and advantage statistics into TRL's metrics; per-rollout means into the completions table."""
        # One collective for all processes' token statistics and per-rollout means (see _local_log).
        rows = self.accelerator.gather(torch.from_numpy(local_log).to(self.accelerator.device).view(1, -1))
        rows = rows.view(-1, local_log.shape[0]).double().cpu().numpy()
        untokenized, calls, calls_without_step, unattributed = rows[:, : len(_CALL_COUNTS)].sum(axis=0)
        total, squares, count = rows[:, len(_CALL_COUNTS) : len(_CALL_COUNTS) + 3].sum(axis=0)
        metrics["graph/untokenized_steps"] = float(untokenized)
        metrics["graph/unattributed_steps"] = float(unattributed)
        if calls > 0:
            metrics["graph/calls_without_step_frac"] = float(calls_without_step / calls)
        if count > 0:
            mean = total / count
            metrics["advantages/token_mean"] = float(mean)
            metrics["advantages/token_std"] = float(max(squares / count - mean * mean, 0.0) ** 0.5)
            metrics["advantages/token_min"] = float(rows[:, _LOG_HEAD - 2].min())
            metrics["advantages/token_max"] = float(rows[:, _LOG_HEAD - 1].max())
        for name, value in metrics.items():
            self._metrics[mode][name].append(value)
        # The parent logged one scalar advantage per rollout; show the ones this trainer used instead (the
        # mean over each completion's action tokens), so the completions table matches the update.
        means = rows[:, _LOG_HEAD:].reshape(-1).tolist()
        logged = self._logs["advantages"]
        for _ in range(min(len(means), len(logged))):
            logged.pop()
        logged.extend(means)


def _resolve_episode_reward(choice: str, reward_funcs) -> str:
    """``"auto"``: the trainer's own reward functions when it was given any, else success (SPEC)."""
    if choice != "auto":
        return choice
    given = reward_funcs if isinstance(reward_funcs, (list, tuple)) else [reward_funcs]
    return "reward_funcs" if any(f is not None for f in given) else "success"


# Step and call counts summed over ranks into the log: untokenized steps, tool calls the model wrote, calls
# that appended no step, trace steps that no call appended.
_CALL_COUNTS = ("untokenized", "calls", "calls_without_step", "unattributed")
_LOG_HEAD = len(_CALL_COUNTS) + 5


def _call_counts(turns: TurnSteps | None) -> list[int]:
    if turns is None:
        return [0, 0, 0]
    return [turns.calls, turns.calls_without_step, turns.unattributed]


def _local_log(advantages: np.ndarray, action: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """This process's log row: the `_CALL_COUNTS`, then sum, sum of squares, count, min and max of the
    action-token advantages, then each rollout's mean action-token advantage (0 without action tokens)."""
    values = advantages[action].astype(np.float64)
    per_row = action.sum(axis=1)
    means = np.where(per_row > 0, (advantages * action).sum(axis=1) / np.maximum(per_row, 1), 0.0)
    head = [
        *counts,
        values.sum(),
        (values * values).sum(),
        values.size,
        values.min() if values.size else math.inf,
        values.max() if values.size else -math.inf,
    ]
    return np.concatenate([np.asarray(head, dtype=np.float64), means.astype(np.float64)])
