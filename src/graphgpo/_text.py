"""Text states for ``merge="similar"`` (SPEC "Merging similar states"): the engine compares the str or bytes
objects themselves (code points for str, byte values for bytes), so they are handed over as they are. Per-row
kind checks run in the engine's binding (a TypeError names the first row of another kind)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._inputs import to_numpy


def wants_texts(options: dict[str, Any]) -> bool:
    """Whether these options merge similar states (only then are texts needed)."""
    return options.get("merge") == "similar"


def text_states(states: Any, name: str) -> list | tuple:
    """``states`` as a list or tuple of str / bytes for the engine; other containers raise TypeError."""
    states = to_numpy(states, name)
    if isinstance(states, np.ndarray):
        if states.ndim == 1 and states.dtype.kind in "US":
            return states.tolist()
        if states.ndim == 1 and states.dtype.kind == "O":
            states = states.tolist()
        else:
            raise TypeError(f"{name} row 0: merge='similar' needs text states (str or bytes), got an array of "
                            f"dtype {states.dtype}" + (" (fingerprints have no text)"
                                                       if states.dtype.names else ""))
    if not isinstance(states, (list, tuple)):
        raise TypeError(f"{name}: merge='similar' needs a list of str or bytes, got {type(states).__name__}")
    return states
