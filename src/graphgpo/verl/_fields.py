"""Where each SPEC row field lives in a verl batch: the names of its columns (verl-agent's by default).

A verl-agent rollout stores one row per environment step, with the step's metadata in
``non_tensor_batch`` (``uid``, ``traj_uid``, ``anchor_obs``, ...) and the token tensors in ``batch``.
Required fields must be in the batch; optional ones are read when the batch has them. An optional field
renamed by the caller is required, so a typo is an error instead of a silently ignored column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

#: Fields that hold per-row metadata (looked up in ``non_tensor_batch`` first, then in ``batch``).
ROW_FIELDS = ("group", "trajectory", "state", "next_state", "valid", "success", "episode_reward", "reward",
              "step", "cost", "action", "task")
#: Fields that hold (rows, tokens) tensors in ``batch``.
TOKEN_FIELDS = ("response_mask", "token_level_rewards", "token_level_scores")


@dataclass(frozen=True)
class Fields:
    """Column names of the SPEC row fields in a verl ``DataProto`` (defaults: verl-agent's names).

    group, trajectory and state are required (state not for grpo); the others are optional and read when
    present, unless set to None. A field renamed from its default (``Fields(step="turn")`` or
    ``fields={"step": "turn"}``) must exist in the batch.

    Attributes:
        group: task group id per row (verl's ``uid``; any hashable, e.g. uuid strings).
        trajectory: trajectory id per row (verl-agent's ``traj_uid``).
        state: the state at the start of the step (verl-agent's ``anchor_obs``).
        next_state: the state after the step (the official GraphGPO recipe's ``next_obs``).
        valid: whether the action was valid (``is_action_valid``).
        success: whether the row's trajectory succeeded. Without it success is derived (see
            :func:`graphgpo.verl.compute_advantage`).
        episode_reward: the trajectory's total environment reward on each row (``episode_rewards``); only
            used to derive success.
        reward: the step's environment reward (``rewards``); passed to the estimator as SPEC ``reward``.
        step: the step's index in its trajectory; orders the trajectory's rows (without it: their order in
            the batch, which verl's batch balancing does not keep, so record it in the rollout).
        cost, action: SPEC ``cost`` and ``action`` (not read unless named).
        task: the memory task key per row (only with ``memory=``; default: the group).
        response_mask, token_level_rewards, token_level_scores: token tensors in ``batch``.
    """

    group: str = "uid"
    trajectory: str = "traj_uid"
    state: str | None = "anchor_obs"
    next_state: str | None = "next_obs"
    valid: str | None = "is_action_valid"
    success: str | None = "success"
    episode_reward: str | None = "episode_rewards"
    reward: str | None = "rewards"
    step: str | None = "step"
    cost: str | None = None
    action: str | None = None
    task: str | None = None
    response_mask: str = "response_mask"
    token_level_rewards: str = "token_level_rewards"
    token_level_scores: str | None = "token_level_scores"

    @classmethod
    def of(cls, value: Fields | Mapping[str, Any] | None) -> Fields:
        """A :class:`Fields` from None (defaults), a mapping of overrides, or a :class:`Fields`."""
        if value is None:
            return cls()
        if isinstance(value, Fields):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"fields must be a graphgpo.verl.Fields or a mapping, got {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} in fields: expected some of {', '.join(sorted(known))}")
        for name, column in value.items():
            if column is not None and not isinstance(column, str):
                raise TypeError(f"fields[{name!r}] must be a column name (str) or None, got {column!r}")
        return replace(cls(), **dict(value))

    def __post_init__(self) -> None:
        for name in ("group", "trajectory", "response_mask", "token_level_rewards"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"Fields.{name} must be a column name (str), got {getattr(self, name)!r}")

    def renamed(self) -> frozenset[str]:
        """The fields whose column the caller renamed from the default (these must exist in the batch)."""
        return frozenset(f.name for f in fields(self)
                         if getattr(self, f.name) is not None and getattr(self, f.name) != f.default)
