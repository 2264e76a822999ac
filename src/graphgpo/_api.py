"""The estimator API: advantages for a batch of agent steps (SPEC.md), computed by the C++ engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _core
from ._estimators import check_method
from ._inputs import (
    FINGERPRINT_DTYPE,
    as_action_ids,
    as_flags,
    as_floats,
    as_ids,
    fingerprints,
    row_count,
)
from ._options import checked_options_json, document_options, thread_count
from ._text import text_states, wants_texts
from .memory import GraphMemory, task_keys

StateKey = Callable[[Any], Any]


@dataclass(frozen=True)
class Batch:
    """Rows prepared for the engine: typed, contiguous, one entry per row."""

    group: np.ndarray
    trajectory: np.ndarray
    state: np.ndarray  # (n, 2) uint64 fingerprints
    next_state: np.ndarray | None
    success: np.ndarray
    valid: np.ndarray | None
    reward: np.ndarray | None
    cost: np.ndarray | None
    action: np.ndarray | None
    state_text: Any = None  # merge="similar": the str / bytes states themselves (the key's results)
    next_state_text: Any = None

    @property
    def num_rows(self) -> int:
        return len(self.group)


def prepare_batch(*, group, trajectory, state, success, next_state=None, valid=None, reward=None, cost=None,
                  action=None, key: StateKey | None = None, num_threads: int | None = None,
                  hash_states: bool = True, texts: bool = False) -> Batch:
    """Validate shapes and types and convert every field (hashing states unless ``hash_states`` is False).
    Row-level rules are checked by the engine, which names the first offending row. ``texts`` also keeps
    the text of every state (merge="similar")."""
    row_count({"group": group, "trajectory": trajectory, "state": state, "success": success,
               "next_state": next_state, "valid": valid, "reward": reward, "cost": cost, "action": action})
    threads = thread_count(num_threads)
    state_text = next_state_text = None
    if texts:
        if key is not None:  # the key's results are the states: apply it once, for fingerprints and texts
            state = [key(s) for s in state]
            next_state = None if next_state is None else [None if s is None else key(s) for s in next_state]
            key = None
        state_text = text_states(state, "state")
        next_state = None if next_state is None else text_states(next_state, "next_state")
        next_state_text = None if next_state is None else _fill_missing(next_state, state_text)
        _core._check_texts(state_text, next_state_text)  # name the field and row before hashing fails
        state = state_text  # next_state keeps its None rows: they hash to "no state"
    return Batch(
        group=as_ids(group, "group"),
        trajectory=as_ids(trajectory, "trajectory"),
        state=fingerprints(state, "state", key=key, num_threads=threads, check_only=not hash_states),
        next_state=None if next_state is None else fingerprints(next_state, "next_state", key=key,
                                                                 num_threads=threads,
                                                                 check_only=not hash_states, allow_none=True),
        success=as_flags(success, "success"),
        valid=None if valid is None else as_flags(valid, "valid"),
        reward=None if reward is None else as_floats(reward, "reward"),
        cost=None if cost is None else as_floats(cost, "cost"),
        action=None if action is None else as_action_ids(action),
        state_text=state_text,
        next_state_text=next_state_text,
    )


def _fill_missing(texts: Any, like: Any) -> Any:
    """Texts with each None ("no next state") replaced by an empty text of row 0's kind. The engine never
    reads them (a row without a next state leads to the next row's state), but the text column must be
    text throughout."""
    if not any(t is None for t in texts):
        return texts
    empty = like[0][:0] if len(like) else ""
    return [empty if t is None else t for t in texts]


@document_options
def advantages(method: str, *, group, trajectory, state, success, next_state=None, valid=None, reward=None,
               cost=None, action=None, key: StateKey | None = None, num_threads: int | None = None,
               memory: GraphMemory | None = None, task=None, return_episode: bool = False,
               **options: Any) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Per-row advantages of a batch of agent steps, exactly as SPEC.md defines them (``graphgpo docs spec``).

    Args:
        method: one of :data:`graphgpo.METHODS` (``"grpo"``, ``"gigpo"``, ``"graphgpo"``, ``"progpo"``).
        group: task group id per row (all rollouts of one task share it): integers within int64, or
            strings such as verl's uuid ``uid`` (hashed to int64; equal strings give equal ids).
        trajectory: trajectory id per row (integers or strings, like ``group``); a trajectory's rows are
            contiguous and in step order.
        state: the state at the start of each step: a list of str or bytes (a str is its UTF-8 bytes), a
            1-D integer array, a 2-D array (one row per state), ragged integer sequences (lists, arrays or
            1-D CPU tensors of token ids), or fingerprints from :func:`fingerprint`.
        success: whether the row's trajectory succeeded (bools or 0/1; constant per trajectory).
        next_state: the state after each step (same kinds as ``state``); default: the next row's state. A
            row's next_state may be None ("no next state": the default applies to that row).
        valid: whether each action was valid (bools or 0/1; default all valid).
        reward: per-step rewards (default: ``success_reward`` on the last row of a successful trajectory).
        cost: per-step edge costs > 0 (default 1).
        action: action identity per row (needed by ``distance="expected"``); any hashables.
        key: optional callable applied to every state before hashing (canonicalization).
        num_threads: engine threads (default all cores); results never depend on it.
        memory: a :class:`GraphMemory`: each group's graph also holds the edges its task showed in earlier
            calls, and this call's edges are stored after it (``"graphgpo"`` with ``distance="shortest"``).
        task: with ``memory``, the task of each row (int or str keys, constant within a group; default: the
            group id). Rollouts of one task in different calls share stored edges.
        return_episode: also return, from the same engine pass, each row's episode advantage A_E scored
            without ``invalid_penalty`` (the outcome term: one value per trajectory, equal to ``grpo``'s
            advantages with every row valid). A trainer gives it to tokens that own no step.
        **options: SPEC options, ``name=default: meaning`` (the engine's option table,
            :func:`graphgpo.option_schema`):
            {OPTIONS}

    Returns:
        float64 array, one advantage per row. An empty batch gives an empty array. With
        ``return_episode=True``: a pair ``(advantages, episode_advantages)`` of such arrays.

    Raises:
        ValueError: bad rows (naming the first), unequal lengths, unknown or out-of-range options/method,
            ids outside int64 or fractional, flags other than 0/1.
        TypeError: ids that are neither integers nor strings (or a mix), unsupported state types.
    """
    check_method(method)
    encoded_options = checked_options_json(options, num_threads)
    engine_memory = None
    if memory is not None:
        if not isinstance(memory, GraphMemory):
            raise TypeError(f"memory must be a graphgpo.GraphMemory, got {type(memory).__name__}")
        _core.check_memory_options(method, encoded_options)  # before any state is hashed
        engine_memory = memory._engine
    elif task is not None:
        raise ValueError("task is only used with memory= (the task key of each row for the graph memory)")
    batch = prepare_batch(group=group, trajectory=trajectory, state=state, success=success,
                          next_state=next_state, valid=valid, reward=reward, cost=cost, action=action, key=key,
                          num_threads=num_threads, hash_states=method != "grpo", texts=wants_texts(options))
    tasks = None if task is None else task_keys(task, batch.num_rows)
    return _core.advantages(method, batch.group, batch.trajectory, batch.state, batch.next_state, batch.success,
                            batch.valid, batch.reward, batch.cost, batch.action, encoded_options,
                            batch.state_text, batch.next_state_text, engine_memory, tasks,
                            with_episode=bool(return_episode))


def grpo(**kwargs: Any) -> np.ndarray:
    """GRPO advantages: the episode advantage A_E of every row. Same arguments as :func:`advantages`."""
    return advantages("grpo", **kwargs)


def gigpo(**kwargs: Any) -> np.ndarray:
    """GiGPO advantages: A_E plus discounted returns normalized within step groups (same start state)."""
    return advantages("gigpo", **kwargs)


def graphgpo(**kwargs: Any) -> np.ndarray:
    """GraphGPO advantages: A_E plus graph distance-to-success returns normalized within step groups."""
    return advantages("graphgpo", **kwargs)


def progpo(**kwargs: Any) -> np.ndarray:
    """ProGPO advantages: every step credited by its progress toward success on the group's graph, scaled to
    outrank A_E (SPEC "ProGPO")."""
    return advantages("progpo", **kwargs)


def fingerprint(states: Any, *, key: StateKey | None = None, num_threads: int | None = None) -> np.ndarray:
    """128-bit fingerprints of states, as a 1-D array of dtype :data:`FINGERPRINT_DTYPE` (fields lo, hi).

    Accepts a list of str (hashed as UTF-8) or bytes, a 1-D integer array or list, a 2-D array (each row's
    values, integers widened to int64), ragged integer sequences, or CPU torch tensors. Equal states give
    equal fingerprints across runs, processes and machines. Pass the result anywhere a state is expected.
    """
    raw = fingerprints(states, "states", key=key, num_threads=thread_count(num_threads))
    return raw.view(FINGERPRINT_DTYPE).reshape(-1)
