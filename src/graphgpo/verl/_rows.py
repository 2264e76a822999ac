"""From a verl batch (one row per environment step, in any order) to SPEC rows, and advantages back.

verl balances batches across ranks before advantages are computed, so the rows of a trajectory need not be
contiguous. The rows are sorted by trajectory (trajectories in order of first appearance; within one, by
the step field if there is one, else by batch position: a stable sort keeps their relative order), the
estimator runs on the sorted rows, and each result goes back to its row's batch position.

Ids (uid, traj_uid: uuid strings in verl) become int64 ids exactly as :func:`graphgpo.advantages` makes
them (integers as they are, str/bytes by their 128-bit fingerprint), so equal strings get equal ids. Success, when the batch has no success column, is derived per
trajectory as verl-agent does: the trajectory succeeded iff its episode reward is > 0, where the episode
reward is the ``episode_rewards`` column (largest value over the trajectory's rows), else the sum of its
``rewards``, else the sum of its rows' ``token_level_scores`` (``token_level_rewards`` if there are no
scores; scores are taken first because they carry no KL penalty).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._api import advantages
from .._estimators import ESTIMATORS, check_method
from .._inputs import as_ids
from ._fields import Fields


class Columns:
    """Read access to the columns of a verl batch: ``non_tensor_batch`` (numpy arrays) and ``batch``
    (a TensorDict or any mapping of tensors). Tensors are moved to the CPU as numpy arrays."""

    def __init__(self, batch: Any, non_tensor_batch: Mapping[str, Any] | None):
        self.batch = batch
        self.non_tensors = non_tensor_batch if non_tensor_batch is not None else {}

    def has(self, name: str | None) -> bool:
        if name is None:
            return False
        return name in self.non_tensors or (self.batch is not None and name in self.batch.keys())

    def tensor(self, name: str) -> Any:
        if self.batch is None or name not in self.batch.keys():
            raise KeyError(name)
        return self.batch[name]

    def values(self, name: str) -> np.ndarray:
        if name in self.non_tensors:
            return np.asarray(self.non_tensors[name])
        value = self.tensor(name)
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        return np.asarray(value)


@dataclass(frozen=True)
class Rows:
    """SPEC rows in trajectory order: ``kwargs`` for :func:`graphgpo.advantages`; ``order[i]`` is the
    batch row of sorted row i."""

    order: np.ndarray
    kwargs: dict[str, Any]
    group: np.ndarray  # the batch's group values, batch order (for error messages)
    trajectory: np.ndarray
    success_rule: str


class MissingColumnError(KeyError):
    """A column the call needs is not in the verl batch (a KeyError whose message reads as a sentence)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def missing(name: str, role: str, columns: Columns) -> MissingColumnError:
    present = sorted(list(columns.non_tensors) + ([] if columns.batch is None else list(columns.batch.keys())))
    return MissingColumnError(f"the verl batch has no {name!r} column ({role}); it has: {', '.join(present) or 'nothing'}. "
                    f"Pass fields={{...}} to name the column that holds it")


def _column(columns: Columns, fields: Fields, role: str, n: int, *, required: bool) -> np.ndarray | None:
    """One row field's values (None when optional and absent), checked to have one value per row."""
    name = getattr(fields, role)
    if name is None:
        if required:
            raise ValueError(f"fields.{role} is None, but {role} is required")
        return None
    if not columns.has(name):
        if required or role in fields.renamed():
            raise missing(name, role, columns)
        return None
    values = columns.values(name)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or len(values) != n:
        raise ValueError(f"column {name!r} ({role}) must hold one value per row: {n} rows, got shape "
                         f"{values.shape}")
    return values


def needs_states(method: str) -> bool:
    """Whether ``method`` reads the rows' states (it has a step term on a state graph; grpo does not)."""
    return ESTIMATORS[method].builds_graph


def first_rows(ids: np.ndarray) -> np.ndarray:
    """Per row: the batch position of the first row with the same id (orders trajectories by first
    appearance)."""
    _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)]


def _flags(values: np.ndarray, name: str) -> np.ndarray:
    """Object columns of Python / numpy bools (verl's non-tensor arrays) as a typed array."""
    if values.dtype == object:
        try:
            values = np.asarray(values.tolist())
        except (TypeError, ValueError):
            pass
    if values.dtype.kind not in "biuf":
        raise TypeError(f"column {name!r} must hold booleans (or 0/1), got dtype {values.dtype}")
    return values


def _numbers(values: np.ndarray, name: str) -> np.ndarray:
    try:
        return np.asarray(values.tolist() if values.dtype == object else values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"column {name!r} must hold numbers, got {values[:3].tolist()!r}...") from None


def _trajectory_success(columns: Columns, fields: Fields, traj: np.ndarray, n: int,
                        reward: np.ndarray | None) -> tuple[np.ndarray, str]:
    """Per-row success flags derived from rewards when the batch has no success column (see module doc)."""
    traj = np.unique(traj, return_inverse=True)[1].reshape(-1)  # 0..count-1
    count = int(traj.max()) + 1 if n else 0
    episode = _column(columns, fields, "episode_reward", n, required=False)
    if episode is not None:
        best = np.full(count, -np.inf)
        np.maximum.at(best, traj, _numbers(episode, fields.episode_reward))
        return best[traj] > 0, f"{fields.episode_reward} > 0"
    if reward is not None:
        return np.bincount(traj, weights=reward, minlength=count)[traj] > 0, f"sum of {fields.reward} > 0"
    token_name = fields.token_level_scores if columns.has(fields.token_level_scores) else fields.token_level_rewards
    if not columns.has(token_name):
        raise missing(fields.success or "success", "success; or rewards to derive it from", columns)
    tokens = columns.values(token_name).astype(np.float64)
    row_sums = tokens.reshape(n, -1).sum(axis=1) if n else np.zeros(0)
    return np.bincount(traj, weights=row_sums, minlength=count)[traj] > 0, f"sum of {token_name} > 0"


def step_rows(columns: Columns, fields: Fields, method: str, n: int, *, memory: bool = False,
              task: Any = None) -> Rows:
    """Read, convert and sort the SPEC row fields of an ``n``-row verl batch."""
    group_values = _column(columns, fields, "group", n, required=True)
    traj_values = _column(columns, fields, "trajectory", n, required=True)
    group = as_ids(group_values, fields.group)  # str/bytes ids hashed exactly as graphgpo.advantages does
    traj = as_ids(traj_values, fields.trajectory)

    step = _column(columns, fields, "step", n, required=False)
    within = np.arange(n) if step is None else _numbers(step, fields.step)
    order = np.lexsort((within, first_rows(traj)))
    if step is not None:
        same = (traj[order][1:] == traj[order][:-1]) & (within[order][1:] == within[order][:-1])
        if same.any():
            i = int(np.flatnonzero(same)[0])
            raise ValueError(f"column {fields.step!r}: rows {order[i]} and {order[i + 1]} of trajectory "
                             f"{traj_values[order[i]]!r} have the same step {np.asarray(step[order[i]]).tolist()!r}")

    state = _column(columns, fields, "state", n, required=needs_states(method))
    reward = _column(columns, fields, "reward", n, required=False)
    reward = None if reward is None else _numbers(reward, fields.reward)
    success = _column(columns, fields, "success", n, required=False)
    if success is None:
        success, rule = _trajectory_success(columns, fields, traj, n, reward)
    else:
        success, rule = _flags(success, fields.success), f"column {fields.success!r}"

    def sorted_list(values: np.ndarray | None) -> list | None:
        return None if values is None else values[order].tolist()

    kwargs: dict[str, Any] = {
        "group": group[order],
        "trajectory": traj[order],
        "state": sorted_list(state) if state is not None else np.zeros(n, dtype=np.int64),
        "success": success[order],
    }
    next_state = _column(columns, fields, "next_state", n, required=False)
    if next_state is not None:
        kwargs["next_state"] = sorted_list(next_state)
    valid = _column(columns, fields, "valid", n, required=False)
    if valid is not None:
        kwargs["valid"] = _flags(valid, fields.valid)[order]
    if reward is not None:
        kwargs["reward"] = reward[order]
    cost = _column(columns, fields, "cost", n, required=False)
    if cost is not None:
        kwargs["cost"] = _numbers(cost, fields.cost)[order]
    action = _column(columns, fields, "action", n, required=False)
    if action is not None:
        kwargs["action"] = sorted_list(action)
    if task is not None:  # per-row task keys in the batch's order, given to the call
        if fields.task is not None:
            raise ValueError(f"task= and fields.task={fields.task!r} both give the task keys: pass one")
        task = np.asarray(task, dtype=object) if not isinstance(task, np.ndarray) else task
        if task.ndim != 1 or len(task) != n:
            raise ValueError(f"task must hold one key per batch row: {n} rows, got shape {task.shape}")
        kwargs["task"] = sorted_list(task)
    elif memory:
        column = _column(columns, fields, "task", n, required=False)
        if column is not None:
            kwargs["task"] = sorted_list(column)
    return Rows(order=order, kwargs=kwargs, group=group_values, trajectory=traj_values, success_rule=rule)


_ROW = re.compile(r"\brow (\d+)")


def _in_batch_terms(error: Exception, rows: Rows, fields: Fields) -> Exception:
    """The engine's error, with the sorted row it names translated to the verl batch's row and ids."""
    message = str(error)
    match = _ROW.search(message)
    extra = []
    if match and int(match.group(1)) < len(rows.order):
        r = int(rows.order[int(match.group(1))])
        extra.append(f"row {match.group(1)} is verl batch row {r}: {fields.trajectory}="
                     f"{rows.trajectory[r]!r}, {fields.group}={rows.group[r]!r}")
    if "success" in message:
        extra.append(f"success from {rows.success_rule}")
    if not extra:
        return error
    return type(error)(f"{message} [{'; '.join(extra)}]")


def row_advantages(columns: Columns, fields: Fields, method: str, n: int, *, key: Any = None,
                   num_threads: int | None = None, memory: Any = None, task: Any = None,
                   **options: Any) -> np.ndarray:
    """float64 advantages, one per batch row, in the batch's order (``task``: per-row keys, batch order)."""
    method = check_method(getattr(method, "value", method))  # verl's AdvantageEstimator: str Enums
    if n == 0:
        return np.zeros(0)
    rows = step_rows(columns, fields, method, n, memory=memory is not None, task=task)
    extra = dict(rows.kwargs)
    if memory is not None:
        extra["memory"] = memory
    try:
        values = advantages(method, key=key, num_threads=num_threads, **extra, **options)
    except (ValueError, TypeError) as error:
        raise _in_batch_terms(error, rows, fields) from error
    out = np.empty(n)
    out[rows.order] = values
    return out
