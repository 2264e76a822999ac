"""The one seam between the TRL integration and the graphgpo engine.

Product code reaches the engine only through these two functions, so an experiment (or a test run
before the native engine is built) can swap them with ``monkeypatch.setattr`` in one place. They are
thin on purpose: argument validation and semantics live in the engine (SPEC.md).
"""

from __future__ import annotations

import numpy as np

__all__ = ["advantages", "fingerprint"]


def advantages(method: str, **rows_and_options) -> np.ndarray:
    """``graphgpo.advantages(method, **rows_and_options)`` as a float64 array, one value per row."""
    import graphgpo

    return np.asarray(graphgpo.advantages(method, **rows_and_options), dtype=np.float64)


def fingerprint(keys: list[bytes]) -> np.ndarray:
    """128-bit fingerprints of byte strings, shape ``(len(keys), 2)``, dtype uint64.

    They must be equal exactly when the keys are equal and identical in every process (no per-process
    salt), because ranks exchange fingerprints instead of state texts.
    """
    if not keys:
        return np.zeros((0, 2), dtype=np.uint64)
    import graphgpo

    return np.asarray(graphgpo.fingerprint(keys), dtype=np.uint64).reshape(len(keys), 2)
