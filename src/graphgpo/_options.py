"""Estimator options: the engine's option table, and the one encoder of option dicts into checked JSON.

The engine's option table (``cpp/src/option_table.cpp``) is the one source of every option's name, type,
default, allowed values and doc. This module reads it once and derives what Python needs from it:
:data:`DEFAULT_OPTIONS`, the option lines of docstrings, and :func:`checked_options_json`, which validates
with the engine's own checks.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from . import _core
from ._inputs import options_json

#: Every option of the engine in documentation order, as the engine describes it (see
#: ``graphgpo_option_schema`` in graphgpo.h): name, type, default, scope, used_by, doc, and choices or bounds.
OPTION_SCHEMA: tuple[dict[str, Any], ...] = tuple(json.loads(_core.option_schema())["options"])

_PYTHON_TYPES: dict[str, Callable[[Any], Any]] = {"number": float, "integer": int, "boolean": bool, "choice": str}


def _estimator_options() -> dict[str, Any]:
    """Name -> default of every option an estimator reads (scope "engine", e.g. num_threads, is separate)."""
    return {o["name"]: _PYTHON_TYPES[o["type"]](o["default"]) for o in OPTION_SCHEMA if o["scope"] != "engine"}


#: SPEC defaults of the estimator options, from the engine's option table; every estimator accepts every
#: option (each reads the ones it needs: see :func:`graphgpo.option_schema`).
DEFAULT_OPTIONS: dict[str, Any] = _estimator_options()


def option_schema() -> list[dict[str, Any]]:
    """Every option the estimators accept, from the engine's option table, as a list of dicts.

    Keys: ``name``, ``type`` (``"number"``, ``"integer"``, ``"boolean"`` or ``"choice"``), ``default``,
    ``choices`` (choice options), ``min``/``max``/``min_open``/``max_open`` (bounded numbers),
    ``null_is_default``, ``scope`` (what reads it; ``"engine"`` options change how the engine runs, never
    what it computes), ``used_by`` (the methods that read it) and ``doc`` (one line).
    """
    return copy.deepcopy(list(OPTION_SCHEMA))


def options_doc(indent: str) -> str:
    """One line per estimator option, ``name=default: doc.``, each starting with ``indent``."""
    return "\n".join(f"{indent}{o['name']}={DEFAULT_OPTIONS[o['name']]!r}: {o['doc']}."
                     for o in OPTION_SCHEMA if o["name"] in DEFAULT_OPTIONS)


F = TypeVar("F", bound=Callable[..., Any])

_MARKER = "{OPTIONS}"


def document_options(func: F) -> F:
    """Replace the line holding ``{OPTIONS}`` in ``func``'s docstring by :func:`options_doc`, indented like
    that line."""
    lines = (func.__doc__ or "").split("\n")
    for k, line in enumerate(lines):
        if _MARKER in line:
            indent = line[: len(line) - len(line.lstrip())]
            lines[k] = options_doc(indent)
            break
    else:
        raise ValueError(f"{func.__qualname__}: no {_MARKER} line in the docstring")
    func.__doc__ = "\n".join(lines)
    return func


def thread_count(num_threads: Any) -> int:
    """``num_threads`` as the engine takes it: an integer >= 0 (None and 0 mean the default). Floats, strings
    and bools are refused rather than truncated (``int(1.5)`` would silently be 1)."""
    if num_threads is None:
        return 0
    if isinstance(num_threads, (bool, np.bool_)) or not isinstance(num_threads, (int, np.integer)):
        raise TypeError(f"num_threads must be an integer >= 0 or None, got {num_threads!r} "
                        f"({type(num_threads).__name__})")
    if num_threads < 0:
        raise ValueError(f"num_threads must be >= 0, got {num_threads}")
    return int(num_threads)


_PLAIN_OPTION_TYPES = (bool, int, float, str, type(None))


@functools.lru_cache(maxsize=256)
def _checked_options(items: tuple[tuple[str, type, Any], ...]) -> str:
    encoded = options_json({name: value for name, _, value in items})
    _core.check_options(encoded)  # fail on a bad option before any state is hashed
    return encoded


def checked_options_json(options: dict[str, Any], num_threads: int | None = None) -> str:
    """The options (plus ``num_threads`` when given) as JSON the engine accepted: unknown names, wrong types
    and values out of range raise ValueError here, with the engine's message. A training loop passes the same
    few options every step, so plain values are encoded and checked once (errors are not cached: a bad option
    raises every time)."""
    if num_threads is not None:
        options = {**options, "num_threads": thread_count(num_threads)}
    # The type is part of the key: 1, 1.0 and True are equal in Python but not to the option parser.
    items = tuple((name, type(value), value) for name, value in options.items())
    if all(t in _PLAIN_OPTION_TYPES for _, t, _ in items):
        return _checked_options(items)
    return _checked_options.__wrapped__(items)
