"""The implementations being timed, each with the input format it is given (prepared outside the timer).

- ``published/<method>``: :mod:`benchmarks.published_style` given what verl gives the published code:
  group and trajectory ids as uuid4 strings in numpy object arrays (verl's ``uid`` / ``traj_uid``), the
  states as a list. ``published-int/<method>``: the same code given the int64 ids instead.
- ``python/<method>``: ``reference_advantages`` of ``graphgpo.testing.reference``, the linear-time plain-Python
  version of SPEC (Python lists everywhere: its fastest input).
- ``xxh3``: the hashing yardstick, ``xxhash.xxh3_128_intdigest`` of every row's state bytes in a list
  comprehension. For text the bytes are the UTF-8 of the very strings the engine gets (as separate bytes
  objects: xxhash does not take ``str``); for integers, each row's 8 little-endian bytes.
  ``xxh3-buffer`` (integer states only): one ``xxh3_128`` over the whole int64 buffer, a memory-speed bound.
- ``engine/fingerprint``: ``graphgpo.fingerprint(states)`` alone (``num_threads=1`` where it takes one).
- ``engine/<method>/<k>``: ``graphgpo.advantages(method, ..., num_threads=k)`` on raw states (``str``
  objects or an int64 array, not precomputed fingerprints), so hashing is included.

On "similar-text" shapes (``merge="similar"``, SPEC "Merging similar states") only these run:

- ``official/<method>``: :mod:`benchmarks.published_style` with ``similarity=0.95``, i.e. the official
  merging loops (graphgpo: the recipe's ``StateCanonicalizer`` per task, difflib, greedy first-fit against
  first-seen representatives, exact-match cache; gigpo: verl-agent's ``build_step_group`` loop), int64 ids.
  It is the reference of this shape: the engine's outputs are compared with it.
- ``engine/<method>-similar/<k>``: ``graphgpo.advantages(method, ..., merge="similar", num_threads=k)``.

Text states are new ``str`` objects on every run (see :meth:`benchmarks.data.Batch.states`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from benchmarks import published_style
from benchmarks.data import Batch

METHODS = published_style.METHODS
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Impl:
    """One timed implementation: ``call(prepare())`` is what the timer measures (``prepare`` is untimed)."""

    key: str
    label: str
    prepare: Callable[[], Any]
    call: Callable[[Any], Any]
    method: str | None = None  # set for advantage estimators, whose outputs are checked against the reference
    cold: bool = False  # timed from a cold start (gc.collect() before every call; see timing.py)
    together: str | None = None  # implementations with the same tag are timed in turn (compared as a ratio)


def load_reference() -> Callable[..., list[float]] | None:
    """``reference_advantages`` of :mod:`graphgpo.testing.reference` (None if graphgpo is not importable)."""
    try:
        from graphgpo.testing.reference import reference_advantages
    except ImportError:
        return None
    return reference_advantages


def load_engine(kind: str) -> tuple[Any | None, str]:
    """The engine to time and a description of it.

    ``kind="graphgpo"``: the real package (None if ``graphgpo.advantages`` is not there yet).
    ``kind="reference"``: a STAND-IN that routes the engine calls to the reference, to exercise this
    harness before the engine exists; its numbers say nothing about the engine.
    """
    if kind == "reference":
        reference = load_reference()
        if reference is None:
            return None, "stand-in requested but graphgpo.testing is not importable"

        def advantages(method, *, num_threads=None, **rows):
            del num_threads
            return np.asarray(reference(method, **rows), dtype=np.float64)

        def fingerprint(states, key=None):
            del key
            return np.asarray(
                [hash(s) for s in states.tolist()]
                if isinstance(states, np.ndarray)
                else [hash(s) for s in states]
            )

        return SimpleNamespace(advantages=advantages, fingerprint=fingerprint), "STAND-IN: graphgpo.testing.reference"
    try:
        import graphgpo
    except ImportError as exc:
        return None, f"graphgpo not importable ({exc})"
    if not hasattr(graphgpo, "advantages") or not hasattr(graphgpo, "fingerprint"):
        return None, "graphgpo.advantages / graphgpo.fingerprint not available (engine not built)"
    return graphgpo, f"graphgpo {getattr(graphgpo, '__version__', '?')}"


def engine_inputs(batch: Batch) -> dict:
    """Inputs as a training loop holds them: numpy id/flag arrays, states as ``str`` list or int64 array."""
    return {
        "group": batch.group,
        "trajectory": batch.trajectory,
        "state": batch.states(),
        "success": batch.success,
        "valid": batch.valid,
    }


def python_states(batch: Batch) -> list:
    """States as a list of Python values (fresh ``str`` objects, or ints)."""
    states = batch.states()
    return states.tolist() if isinstance(states, np.ndarray) else states


def python_inputs(batch: Batch) -> dict:
    """Everything as Python lists: the fastest input for the plain-Python reference."""
    return {
        "group": batch.group.tolist(),
        "trajectory": batch.trajectory.tolist(),
        "state": python_states(batch),
        "success": batch.success.tolist(),
        "valid": batch.valid.tolist(),
    }


def published_inputs(batch: Batch, ids: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """numpy id arrays (the published code calls ``np.where`` on them) and a list of states.

    ``ids``: (group, trajectory) id arrays to use instead of the batch's int64 ids, e.g. verl's uuid strings.
    """
    group, trajectory = ids if ids is not None else (batch.group, batch.trajectory)
    return {
        "group": group,
        "trajectory": trajectory,
        "state": python_states(batch),
        "success": batch.success,
        "valid": batch.valid,
    }


def _hash_each(items: list) -> list[int]:
    from xxhash import xxh3_128_intdigest

    return [xxh3_128_intdigest(x) for x in items]


def _hash_buffer(array: np.ndarray) -> int:
    from xxhash import xxh3_128_intdigest

    return xxh3_128_intdigest(array)


def _int_row_bytes(batch: Batch) -> list[bytes]:
    return [v.to_bytes(8, "little", signed=True) for v in batch.states().tolist()]


def published_impls(batch: Batch) -> list[Impl]:
    """The published style with verl's uuid-string ids (its native input), and with int64 ids."""
    uuids = batch.uuid_ids()
    out = [
        Impl(
            f"published/{m}",
            f"published style, {m}",
            lambda: published_inputs(batch, uuids),
            lambda kw, m=m: published_style.advantages(m, **kw),
            method=m,
        )
        for m in METHODS
    ]
    out += [
        Impl(
            f"published-int/{m}",
            f"published style, {m}, int64 ids",
            lambda: published_inputs(batch),
            lambda kw, m=m: published_style.advantages(m, **kw),
            method=m,
        )
        for m in METHODS
    ]
    return out


def python_impls(batch: Batch, reference: Callable[..., list[float]]) -> list[Impl]:
    return [
        Impl(
            f"python/{m}",
            f"linear Python (reference), {m}",
            lambda: python_inputs(batch),
            lambda kw, m=m: reference(m, **kw),
            method=m,
        )
        for m in METHODS
    ]


def xxh3_impls(batch: Batch) -> list[Impl]:
    if batch.is_text:
        return [Impl("xxh3", "xxh3_128 per state (yardstick)", batch.state_bytes, _hash_each)]
    return [
        Impl("xxh3", "xxh3_128 per row, 8 bytes each (yardstick)", lambda: _int_row_bytes(batch), _hash_each),
        Impl("xxh3-buffer", "xxh3_128 of the whole int64 buffer", batch.states, _hash_buffer),
    ]


def engine_impls(
    batch: Batch, engine: Any, *, methods=METHODS, threads=(1,), extra_threads=(2,), fingerprint: bool = True
) -> list[Impl]:
    """Engine rows: ``fingerprint`` alone, each method at ``threads``, graphgpo also at ``extra_threads``;
    with ``extra_threads``, graphgpo at 1 thread and at those again from a cold start."""
    out = []
    if fingerprint:
        # Hash on one thread, like the xxh3 loop, if the engine lets us choose.
        one = {"num_threads": 1} if "num_threads" in inspect.signature(engine.fingerprint).parameters else {}
        label = "engine fingerprint(states)" + (", 1 thread" if one else "")
        out.append(
            Impl("engine/fingerprint", label, batch.states, lambda states: engine.fingerprint(states, **one))
        )
    runs = [(m, k) for m in methods for k in threads]
    runs += [("graphgpo", k) for k in extra_threads if "graphgpo" in methods and k not in threads]
    cold_runs = [("graphgpo", k) for k in (1, *extra_threads)] if extra_threads and "graphgpo" in methods else []
    for (m, k), cold in [*((run, False) for run in runs), *((run, True) for run in cold_runs)]:
        plural = "thread" if k == 1 else "threads"
        out.append(
            Impl(
                f"engine/{m}/{k}" + ("/cold" if cold else ""),
                f"engine {m}, {k} {plural}" + (", cold start" if cold else ""),
                lambda: engine_inputs(batch),
                lambda kw, m=m, k=k: engine.advantages(m, num_threads=k, **kw),
                method=m,
                cold=cold,
                # 1 vs 2 threads is a ratio: time them in turn, so machine noise hits both alike.
                together=("graphgpo-threads" + ("-cold" if cold else "")) if m == "graphgpo" and extra_threads
                else None,
            )
        )
    return out


SIMILARITY = 0.95


def similar_impls(batch: Batch, engine: Any | None) -> list[Impl]:
    """merge="similar": the official-style loops and the engine (1 thread; graphgpo also on 2)."""
    out = [
        Impl(
            f"official/{m}",
            f"official-style loop (difflib, greedy first-fit), {m}",
            lambda: published_inputs(batch),
            lambda kw, m=m: published_style.advantages(m, similarity=SIMILARITY, **kw),
            method=m,
        )
        for m in ("gigpo", "graphgpo")
    ]
    if engine is None:
        return out
    for m, k in (("gigpo", 1), ("graphgpo", 1), ("graphgpo", 2)):
        out.append(
            Impl(
                f"engine/{m}-similar/{k}",
                f"engine {m}, merge='similar', {k} thread" + ("s" if k > 1 else ""),
                lambda: engine_inputs(batch),
                lambda kw, m=m, k=k: engine.advantages(m, merge="similar", similarity=SIMILARITY, num_threads=k,
                                                       **kw),
                method=m,
            )
        )
    return out
