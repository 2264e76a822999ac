"""`compute_advantage`: graphgpo's estimators on a verl-agent batch, in one call.

A verl-agent recipe computes GiGPO (or the official GraphGPO) in a hard-coded branch of its trainer's
``compute_advantage``. This function replaces that branch for every graphgpo estimator and SPEC option:
it reads the step rows of the batch, runs the engine, and writes ``advantages`` and ``returns`` (each row's
advantage on its response tokens, 0 elsewhere; returns equal advantages, as in verl-agent).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._fields import Fields
from ._rows import Columns, missing, row_advantages


def token_advantages(values: np.ndarray, response_mask: Any, like: Any = None) -> Any:
    """(rows, tokens) tensor: each row's advantage on its response tokens (mask != 0), 0 elsewhere, in
    ``like``'s floating dtype (float32 when ``like`` is None or not floating) on the mask's device."""
    import torch

    dtype = like.dtype if like is not None and torch.is_floating_point(like) else torch.float32
    per_row = torch.as_tensor(values, dtype=dtype, device=response_mask.device)
    return per_row.unsqueeze(-1) * (response_mask != 0).to(dtype)


def compute_advantage(data: Any, method: str = "graphgpo", *, fields: Fields | Mapping[str, Any] | None = None,
                      key: Any = None, num_threads: int | None = None, memory: Any = None,
                      task: Any = None, **options: Any) -> Any:
    """Compute ``method``'s advantages for a verl-agent ``DataProto`` and store them in it.

    Args:
        data: a ``verl.DataProto`` with one row per environment step (any object with ``batch``, a
            TensorDict, and ``non_tensor_batch``, a dict of numpy arrays, works). Rows may come in any
            order: the ``step`` column orders a trajectory's rows; without one they must keep their relative
            order (verl's ``trainer.balance_batch`` does not: record the step index in the rollout).
        method: one of :data:`graphgpo.METHODS`.
        fields: column names (:class:`Fields`, or a mapping of overrides such as ``{"step": "turn"}``).
            Defaults: group ``uid``, trajectory ``traj_uid``, state ``anchor_obs``, optional ``next_obs``,
            ``is_action_valid``, ``success``, ``episode_rewards``, ``rewards``, ``step``; tensors ``response_mask``,
            ``token_level_rewards``.
        key: optional state canonicalization, as in :func:`graphgpo.advantages`.
        num_threads: engine threads (results never depend on it).
        memory: a ``graphgpo.GraphMemory`` shared across calls (SPEC "Graph memory across calls").
        task: with ``memory``, each row's task key (int or str), in the batch's order; or name a column
            with ``fields={"task": "..."}``. Default: the group (``uid``). Since verl draws a new ``uid``
            per prompt and update, pass the prompt's task (e.g. its level or data index) for memory to
            carry across updates.
        **options: SPEC options (omega, gamma, success_reward, invalid_penalty, step_weight, episode_weight,
            norm, eps, convention, episode_stats, normalize_distance, distance, merge, similarity, ...),
            passed to :func:`graphgpo.advantages` unchanged.

    Success: the ``success`` column if the batch has one; else the trajectory succeeded iff its episode
    reward is > 0: ``episode_rewards`` (largest over its rows), else the sum of its ``rewards``, else the
    sum of its rows' ``token_level_scores`` (or ``token_level_rewards``).

    Returns:
        ``data``, with ``data.batch["advantages"]`` and ``data.batch["returns"]`` set.

    Raises:
        KeyError: a required column is missing (the message names it and lists the batch's columns).
        ValueError, TypeError: bad rows or options, as :func:`graphgpo.advantages` (the message also names
            the verl batch row and its ids).
    """
    names = Fields.of(fields)
    columns = Columns(data.batch, data.non_tensor_batch)
    if not columns.has(names.response_mask):
        raise missing(names.response_mask, "response_mask", columns)
    mask = columns.tensor(names.response_mask)
    values = row_advantages(columns, names, method, int(mask.shape[0]), key=key, num_threads=num_threads,
                            memory=memory, task=task, **options)
    like = columns.tensor(names.token_level_rewards) if columns.has(names.token_level_rewards) else None
    scores = token_advantages(values, mask, like)
    data.batch["advantages"] = scores
    data.batch["returns"] = scores.clone()
    return data
