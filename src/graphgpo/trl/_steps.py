"""From rollouts' step traces to per-step advantages (SPEC rows in, one value per step out).

Each process turns the traces of its own rollouts into :class:`EpisodeRecord` objects: fingerprints and
flags only, no texts, so they are cheap to exchange between ranks (with ``merge="similar"`` they also keep
the state texts, which the engine compares). :func:`batch_advantages` then takes
the records of the *whole* generation batch, in process order, and calls the engine once per batch;
every rank runs it on the same gathered input and gets the same numbers.

Row conventions (documented for users in ``GraphGPOTrainer``):

- one row per environment step of the trace, in call order; the group is ``rollout // num_generations``;
- an episode with no step at all (the model answered without calling a tool, or no trace exists) gets
  one synthetic "stop" row: from the group's initial state (the first state of the group's first
  episode that acted; a per-group sentinel if none acted) to a terminal of its own, valid. So every
  rollout takes part in its group's statistics, and stopping is compared with acting from the start;
- the episode reward is ``success_reward`` on success (SPEC default) or, with
  ``episode_reward="reward_funcs"``, TRL's weighted reward on the episode's last row;
- with ``merge="similar"`` the rows carry the state texts themselves (str or bytes keys, one kind per
  batch); the synthetic stop terminals get texts no environment state resembles.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from . import _engine

__all__ = [
    "TRACE_KEY",
    "SUCCESS_KEY",
    "EpisodeRecord",
    "BatchAdvantages",
    "encode_key",
    "records_from_traces",
    "batch_advantages",
]

TRACE_KEY = "graphgpo_trace"
SUCCESS_KEY = "graphgpo_success"

# User keys are tagged with their kind ("b" text, "i" integer); synthetic nodes start with a NUL byte, which
# no tag does, so a synthetic node can never equal a state the environment reported.
_STOP_ACTION = b"\x00graphgpo/stop-action"


# Synthetic nodes need only be distinct within a group (each group's graph is its own), so they are named by
# position in the group, not in the batch: with a graph memory the same names then recur from call to call
# instead of piling up, and a task's stored graph does not depend on where its group sat in the batch.
_INITIAL_KEY = b"\x00graphgpo/initial"


def _stop_key(position: int) -> bytes:
    return b"\x00graphgpo/stop/%d" % position


def _synthetic_text(key: bytes, kind: type) -> str | bytes:
    """The text of a synthetic node for ``merge="similar"``: its key plus a hash of it, so that synthetic
    nodes are far below any useful threshold from each other and from environment states."""
    text = key + b"/" + hashlib.blake2b(key, digest_size=32).hexdigest().encode("ascii")
    return text.decode("ascii") if kind is str else text


# Fingerprints of synthetic keys, which are the same in every batch: computed once, not in every batch's engine
# calls. Kept per fingerprint function, so a test that swaps `_engine.fingerprint` gets its own.
_SYNTHETIC_FINGERPRINTS: dict = {}


def _synthetic_fingerprints(keys: list[bytes]) -> np.ndarray:
    known = _SYNTHETIC_FINGERPRINTS.setdefault(_engine.fingerprint, {})
    missing = sorted(set(keys) - known.keys())
    if missing:
        known.update(zip(missing, _engine.fingerprint(missing), strict=True))
    return np.array([known[k] for k in keys], dtype=np.uint64).reshape(len(keys), 2)


def encode_key(key: Hashable) -> bytes:
    """Canonical bytes of a state or action key (str, int or bytes).

    The package-wide rule: a str is its UTF-8 bytes, so ``"b"`` and ``b"b"`` are one state, as in
    :func:`graphgpo.fingerprint`. Integers are their own kind: ``1`` and ``"1"`` are different states;
    ``True`` is the integer 1, as Python's ``==`` says.
    """
    if isinstance(key, str):
        return b"b" + key.encode("utf-8")
    if isinstance(key, (bytes, bytearray, memoryview)):
        return b"b" + bytes(key)
    if isinstance(key, (int, np.integer)):
        return b"i" + str(int(key)).encode("ascii")
    raise TypeError(f"state and action keys must be str, int or bytes, got {type(key).__name__}: {key!r}")


@dataclass
class EpisodeRecord:
    """What one process knows about one rollout. Picklable; sent to every rank.

    ``state``/``next_state``/``action`` are ``(n, 2)`` uint64 fingerprints (``action`` is None unless
    every step named one); ``success`` is None when the rollout did not say, and is then read from the
    reward. ``state_text``/``next_state_text`` are the keys themselves (str or bytes), kept only for
    ``merge="similar"``. ``task``: the rollout's graph memory task key (int64), None without a memory.
    """

    state: np.ndarray
    next_state: np.ndarray
    valid: np.ndarray
    action: np.ndarray | None
    success: bool | None
    state_text: list | None = None
    next_state_text: list | None = None
    task: int | None = None

    @property
    def num_steps(self) -> int:
        return len(self.valid)


def _fast_key(key) -> bytes:
    """:func:`encode_key`, with the common kinds first (most of a batch's time went to its type tests)."""
    kind = type(key)
    if kind is str:
        return b"b" + key.encode("utf-8")
    if kind is int:
        return b"i%d" % key
    return encode_key(key)


def _fast_trace(steps: list, texts: bool):
    """The keys, valid flags and action count of one trace whose steps are all plain tuples or lists of 3 or 4
    fields with bool flags, or None: then :func:`records_from_traces` checks it step by step (and names the
    first bad one)."""
    keys, valid, with_action = [], [], 0
    for step in steps:
        kind = type(step)
        if (kind is not tuple and kind is not list) or not 3 <= len(step) <= 4:
            return None
        flag = step[2]
        if flag is not True and flag is not False:
            return None
        valid.append(flag)
        if len(step) == 4:
            keys += (_fast_key(step[0]), _fast_key(step[1]), _fast_key(step[3]))
            with_action += 1
        else:
            keys += (_fast_key(step[0]), _fast_key(step[1]), _STOP_ACTION)
    if texts:
        for step in steps:
            for key in (step[0], step[1]):
                if type(key) is not str and type(key) is not bytes:
                    return None
    return keys, valid, with_action


def _as_bool(value, what: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{what} must be a bool, got {type(value).__name__}: {value!r}")


def _state_text(key: Hashable) -> str | bytes:
    """The text ``merge="similar"`` compares: a str as is (code points), bytes-like as bytes."""
    if isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    raise TypeError(
        f"merge='similar' compares state texts: a state key must be str or bytes, got {type(key).__name__}: "
        f"{key!r}"
    )


def _checked_trace(b: int, steps: list, keys: list, state_text: list | None, next_text: list | None):
    """:func:`_fast_trace` for any trace: each step checked, the first bad one named."""
    valid, with_action = [], 0
    for i, step in enumerate(steps):
        if not isinstance(step, (tuple, list)) or len(step) not in (3, 4):
            raise ValueError(
                f"rollout {b}, step {i}: a trace step is (state, next_state, valid) or "
                f"(state, next_state, valid, action), got {step!r}"
            )
        try:
            keys.append(encode_key(step[0]))
            keys.append(encode_key(step[1]))
            keys.append(encode_key(step[3]) if len(step) == 4 else _STOP_ACTION)
            valid.append(_as_bool(step[2], "valid"))
            if state_text is not None:
                state_text.append(_state_text(step[0]))
                next_text.append(_state_text(step[1]))
        except TypeError as err:
            raise TypeError(f"rollout {b}, step {i}: {err}") from None
        with_action += len(step) == 4
    return valid, with_action


def records_from_traces(
    traces: Sequence[Sequence | None], successes: Sequence[bool | None], *, texts: bool = False
) -> list[EpisodeRecord]:
    """Validate this process's traces and fingerprint their keys (one engine call for the batch).

    ``traces[b]`` is a list of ``(state, next_state, valid)`` or ``(state, next_state, valid, action)``
    steps in call order (None or empty: no step); ``successes[b]`` a bool or None. ``texts``: also keep
    the state keys as texts (``merge="similar"``; then every state key must be str or bytes).
    """
    if len(traces) != len(successes):
        raise ValueError(f"{len(traces)} traces but {len(successes)} success flags")
    keys: list[bytes] = []
    parsed = []
    for b, trace in enumerate(traces):
        steps = [] if trace is None else list(trace)
        state_text: list | None = [] if texts else None
        next_text: list | None = [] if texts else None
        try:
            fast = _fast_trace(steps, texts)
        except (TypeError, ValueError, UnicodeError):
            fast = None  # checked again below, step by step, for the error message
        if fast is not None:
            step_keys, valid, with_action = fast
            keys += step_keys
            if texts:
                state_text[:] = [step[0] for step in steps]
                next_text[:] = [step[1] for step in steps]
        else:
            valid, with_action = _checked_trace(b, steps, keys, state_text, next_text)
        success = successes[b]
        if success is not None:
            success = _as_bool(success, f"rollout {b}: success")
        parsed.append(
            (len(steps), valid, with_action == len(steps) and len(steps) > 0, success, state_text, next_text)
        )
    fps = _engine.fingerprint(keys).reshape(-1, 3, 2)
    records, cursor = [], 0
    for n, valid, has_action, success, state_text, next_text in parsed:
        block = fps[cursor : cursor + n]
        cursor += n
        records.append(
            EpisodeRecord(
                state=block[:, 0].copy(),
                next_state=block[:, 1].copy(),
                valid=np.asarray(valid, dtype=bool),
                action=block[:, 2].copy() if has_action else None,
                success=success,
                state_text=state_text,
                next_state_text=next_text,
            )
        )
    return records


@dataclass
class BatchAdvantages:
    """Engine output mapped back to rollouts (global batch, process order).

    ``steps[b]``: advantages of rollout ``b``'s rows in call order (its synthetic stop row, if any, is its
    only row); ``text[b]``: the advantage of a turn that owns no step (the episode advantage, see
    ``GraphGPOTrainer``); ``synthetic[b]``: whether rollout ``b``'s row is synthetic; ``metrics``: graph
    and advantage statistics of the batch. ``rows``: all rows' advantages in one array, rollout ``b``'s
    being ``rows[first_row[b] : first_row[b] + num_rows[b]]`` (``steps`` are views of it).
    """

    steps: list[np.ndarray]
    text: np.ndarray
    synthetic: np.ndarray
    success: np.ndarray
    metrics: dict[str, float]
    rows: np.ndarray | None = None
    first_row: np.ndarray | None = None
    num_rows: np.ndarray | None = None


def batch_advantages(
    episodes: Sequence[EpisodeRecord],
    rewards: Sequence[float],
    *,
    num_generations: int,
    method: str,
    options: dict,
    episode_reward: str = "success",
    memory=None,
) -> BatchAdvantages:
    """Per-step advantages of one generation batch (all processes' rollouts, in process order).

    ``rewards[b]`` is TRL's weighted reward of rollout ``b`` (NaN when no reward function scored it); it
    decides success where the rollout did not report one (``reward > 0``), and is the episode reward
    with ``episode_reward="reward_funcs"``. ``memory``: a ``graphgpo.GraphMemory`` the estimator call reads
    and then updates, each row keyed by its episode's ``task`` (SPEC "Graph memory across calls"); the
    episode advantage and the diagnostics stay the batch's own.
    """
    num = len(episodes)
    rewards = np.asarray(rewards, dtype=np.float64).reshape(-1)
    if len(rewards) != num:
        raise ValueError(f"{num} episodes but {len(rewards)} rewards")
    if num_generations < 1 or num % num_generations:
        raise ValueError(
            f"the batch of {num} rollouts is not made of groups of num_generations={num_generations}"
        )
    if episode_reward not in ("success", "reward_funcs"):
        raise ValueError(f"episode_reward must be 'success' or 'reward_funcs', got {episode_reward!r}")
    clean_rewards = np.nan_to_num(rewards, nan=0.0)
    success = np.array(
        [bool(clean_rewards[b] > 0) if ep.success is None else ep.success for b, ep in enumerate(episodes)],
        dtype=bool,
    )
    group_of = np.arange(num) // num_generations
    synthetic = np.array([ep.num_steps == 0 for ep in episodes], dtype=bool)
    expected = options.get("distance", "shortest") == "expected"
    if expected:
        missing = [b for b, ep in enumerate(episodes) if ep.num_steps and ep.action is None]
        if missing:
            raise ValueError(
                f"distance='expected' needs an action identity on every step, but rollout {missing[0]} has "
                "steps without one: report (state, next_state, valid, action) in graphgpo_trace"
            )

    # Synthetic nodes: every rank computes the same fingerprints, so they need no exchange.
    initial: dict[int, np.ndarray] = {}
    for b, ep in enumerate(episodes):
        if ep.num_steps and group_of[b] not in initial:
            initial[int(group_of[b])] = ep.state[0]
    need_initial = sorted({int(group_of[b]) for b in np.flatnonzero(synthetic)} - set(initial))
    stop_eps = [int(b) for b in np.flatnonzero(synthetic)]
    synth_fp = _synthetic_fingerprints(
        [_INITIAL_KEY] * len(need_initial) + [_stop_key(b % num_generations) for b in stop_eps] + [_STOP_ACTION]
    )
    for g, fp in zip(need_initial, synth_fp[: len(need_initial)], strict=True):
        initial[g] = fp
    stop_fp = dict(
        zip(stop_eps, synth_fp[len(need_initial) : len(need_initial) + len(stop_eps)], strict=True)
    )
    stop_action = synth_fp[-1]

    states, nexts, valids, actions, counts = [], [], [], [], []
    for b, ep in enumerate(episodes):
        if synthetic[b]:
            states.append(initial[int(group_of[b])][None])
            nexts.append(stop_fp[b][None])
            valids.append(np.ones(1, dtype=bool))
            actions.append(stop_action[None])
            counts.append(1)
        else:
            states.append(ep.state)
            nexts.append(ep.next_state)
            valids.append(ep.valid)
            actions.append(
                ep.action if ep.action is not None else np.repeat(stop_action[None], ep.num_steps, 0)
            )
            counts.append(ep.num_steps)
    counts_arr = np.asarray(counts, dtype=np.int64)
    traj = np.repeat(np.arange(num, dtype=np.int64), counts_arr)
    rows = {
        "group": group_of[traj].astype(np.int64),
        "trajectory": traj,
        "state": np.concatenate(states).astype(np.uint64) if num else np.zeros((0, 2), np.uint64),
        "next_state": np.concatenate(nexts).astype(np.uint64) if num else np.zeros((0, 2), np.uint64),
        "success": success[traj],
        "valid": np.concatenate(valids) if num else np.zeros(0, bool),
    }
    if episode_reward == "reward_funcs":
        reward = np.zeros(len(traj))
        last = np.cumsum(counts_arr) - 1
        reward[last] = clean_rewards
        rows["reward"] = reward
    if options.get("merge", "exact") == "similar":
        rows["state"], rows["next_state"] = _text_rows(episodes, synthetic, group_of)
    if expected:
        _, action_ids = np.unique(np.concatenate(actions), axis=0, return_inverse=True)
        rows["action"] = action_ids.reshape(-1).astype(np.int64)

    with_memory = {}
    if memory is not None:
        missing = [b for b, ep in enumerate(episodes) if ep.task is None]
        if missing:
            raise ValueError(f"graph memory: rollout {missing[0]} has no task key")
        tasks = np.array([ep.task for ep in episodes], dtype=np.int64)
        with_memory = {"memory": memory, "task": tasks[traj]}
    # One engine pass gives the step advantages and each row's episode advantage A_E scored without
    # invalid_penalty, so one number per trajectory (invalid steps are penalised on their own rows, not on
    # text turns).
    row_adv, episode_adv = _engine.advantages(method, **rows, **options, **with_memory, return_episode=True)
    starts = np.concatenate([[0], np.cumsum(counts_arr)[:-1]]).astype(np.int64) if num else counts_arr
    text = episode_adv[starts] if num else np.zeros(0)
    if method != "grpo":
        text = float(options.get("episode_weight", 1.0)) * text
    steps = np.split(row_adv, np.cumsum(counts_arr)[:-1]) if num else []

    return BatchAdvantages(
        steps=list(steps),
        text=np.asarray(text, dtype=np.float64),
        synthetic=synthetic,
        success=success,
        metrics=_metrics(rows, synthetic, counts_arr, row_adv, success, options),
        rows=row_adv,
        first_row=starts,
        num_rows=counts_arr,
    )


def _text_rows(episodes: Sequence[EpisodeRecord], synthetic: np.ndarray, group_of: np.ndarray) -> tuple[list, list]:
    """The rows' state and next-state texts (``merge="similar"``), row for row like the fingerprints."""
    missing = next((b for b, ep in enumerate(episodes) if ep.num_steps and ep.state_text is None), None)
    if missing is not None:
        raise ValueError(
            f"merge='similar' compares state texts, but rollout {missing} was recorded without them "
            "(records_from_traces(..., texts=True))"
        )
    first = next(((b, ep.state_text[0]) for b, ep in enumerate(episodes) if ep.num_steps), (None, ""))
    kind = type(first[1])
    for b, ep in enumerate(episodes):
        for i, pair in enumerate(zip(ep.state_text or (), ep.next_state_text or (), strict=True)):
            if any(type(t) is not kind for t in pair):
                raise TypeError(
                    f"merge='similar': rollout {b}, step {i} has a {'bytes' if kind is str else 'str'} state "
                    f"but rollout {first[0]}'s are {kind.__name__}; difflib compares str as code points and "
                    "bytes as bytes, so one batch must not mix them"
                )
    initial: dict[int, str | bytes] = {}
    for b, ep in enumerate(episodes):
        if ep.num_steps:
            initial.setdefault(int(group_of[b]), ep.state_text[0])
    states: list = []
    nexts: list = []
    for b, ep in enumerate(episodes):
        if synthetic[b]:
            g = int(group_of[b])
            states.append(initial[g] if g in initial else _synthetic_text(_INITIAL_KEY, kind))
            nexts.append(_synthetic_text(_stop_key(b), kind))
        else:
            states.extend(ep.state_text)
            nexts.extend(ep.next_state_text)
    return states, nexts


_ENGINE_DIAGNOSTICS = (
    "mean_nodes_per_group",
    "mean_edges_per_group",
    "shared_state_row_share",
    "unreachable_node_share",
    "groups_without_success_share",
    "failed_steps_closer_share",
    "successful_steps_not_closer_share",
)


def _metrics(
    rows: dict, synthetic: np.ndarray, counts: np.ndarray, row_adv: np.ndarray, success: np.ndarray, options: dict
) -> dict[str, float]:
    """Graph shape and advantage statistics of the batch (same on every rank); with ``merge="similar"`` on
    the merged graphs, plus ``graph/mean_merged_states_per_group``."""
    similar = options.get("merge", "exact") == "similar"
    merging = {"merge": "similar", "similarity": options.get("similarity", 0.95)} if similar else {}
    real = ~synthetic[rows["trajectory"]]
    m: dict[str, float] = {
        "graph/success_rate": float(success.mean()) if len(success) else math.nan,
        "graph/steps_per_episode": float(np.where(synthetic, 0, counts).mean()) if len(counts) else math.nan,
        "graph/episodes_without_steps": float(synthetic.mean()) if len(synthetic) else math.nan,
        "graph/invalid_step_frac": float((~rows["valid"][real]).mean()) if real.any() else 0.0,
    }
    if len(row_adv):
        # The engine's view of the graphs: how much rollouts overlap (only shared start states can get
        # a step advantage) and how well distances explain outcomes. NaN shares are dropped by TRL's log.
        engine = _engine.diagnostics(
            **{k: rows[k] for k in ("group", "trajectory", "state", "next_state", "success")}, **merging
        )
        for name in _ENGINE_DIAGNOSTICS + (("mean_merged_states_per_group",) if similar else ()):
            if name in engine:
                m[f"graph/{name}"] = float(engine[name])
        m["step_advantage/mean"] = float(row_adv.mean())
        m["step_advantage/std"] = float(row_adv.std(ddof=1)) if len(row_adv) > 1 else 0.0
        m["step_advantage/min"] = float(row_adv.min())
        m["step_advantage/max"] = float(row_adv.max())
    return m
