"""The one seam between the TRL integration and the graphgpo engine.

Product code reaches the engine only through these functions, so an experiment (or a test run
before the native engine is built) can swap them with ``monkeypatch.setattr`` in one place. They are
thin on purpose: argument validation and semantics live in the engine (SPEC.md). Inside
``graphgpo.trl`` a fingerprint is a row of an ``(n, 2)`` uint64 array; the conversion to the engine's
fingerprint dtype happens here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["advantages", "diagnostics", "fingerprint"]

_STATE_FIELDS = ("state", "next_state")


def _engine_rows(rows: dict) -> dict:
    import graphgpo

    rows = dict(rows)
    for name in _STATE_FIELDS:
        value = rows.get(name)
        # Fingerprint arrays become the engine's dtype; lists of texts (merge="similar") pass as they are.
        if isinstance(value, np.ndarray):
            rows[name] = (
                np.ascontiguousarray(value, dtype=np.uint64).view(graphgpo.FINGERPRINT_DTYPE).reshape(-1)
            )
    return rows


def advantages(method: str, **rows_and_options) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``graphgpo.advantages(method, **rows_and_options)`` as a float64 array, one value per row (with
    ``return_episode=True``: the pair of the advantages and each row's episode advantage, one engine call).

    ``state``/``next_state`` are ``(n, 2)`` uint64 fingerprints from :func:`fingerprint`, or lists of
    str / bytes texts (``merge="similar"``).
    """
    import graphgpo

    result = graphgpo.advantages(method, **_engine_rows(rows_and_options))
    if rows_and_options.get("return_episode"):
        return tuple(np.asarray(part, dtype=np.float64) for part in result)
    return np.asarray(result, dtype=np.float64)


def diagnostics(**rows) -> dict[str, float]:
    """``graphgpo.diagnostics(**rows)``: graph statistics of the batch (same row fields as advantages)."""
    import graphgpo

    return dict(graphgpo.diagnostics(**_engine_rows(rows)))


def fingerprint(keys: list[bytes]) -> np.ndarray:
    """128-bit fingerprints of byte strings, shape ``(len(keys), 2)``, dtype uint64.

    They must be equal exactly when the keys are equal and identical in every process (no per-process
    salt), because ranks exchange fingerprints instead of state texts.
    """
    if not keys:
        return np.zeros((0, 2), dtype=np.uint64)
    import graphgpo

    fps = np.ascontiguousarray(graphgpo.fingerprint(keys))
    return fps.view(np.uint64).reshape(len(keys), 2)
