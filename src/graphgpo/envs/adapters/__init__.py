"""Optional adapters to third-party text/grid environments, with exact state keys (docs/adapters.md).

- :class:`MiniGridEnv`, :class:`MiniGridEnvironment`: MiniGrid/BabyAI (``pip install minigrid``).
- :class:`TextWorldEnv`, :class:`TextWorldEnvironment`, :func:`make_textworld_game`: TextWorld games made
  offline with ``tw-make`` (``pip install textworld``).
- :class:`ALFWorldEnv`, :class:`ALFWorldEnvironment`, :func:`make_alfworld_game`: games in the ALFWorld
  (ALFRED) PDDL domain that ships in the ``alfworld`` wheel (``pip install alfworld``).

Each ``*Env`` has the plain step API of :class:`graphgpo.envs.GridEnv` (``reset(seed)``, ``step(action)``,
``state_key()``); each ``*Environment`` is a TRL ``environment_factory`` class with one tool, ``act``, that
records the GraphGPO step trace. Names are imported lazily: importing this package needs none of the
third-party packages, and using an adapter whose package is missing raises an ImportError naming it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MINIGRID_ACTIONS": "minigrid", "MiniGridEnv": "minigrid", "MiniGridEnvironment": "minigrid",
    "make_textworld_game": "textworld", "TextWorldEnv": "textworld", "TextWorldEnvironment": "textworld",
    "COOL_APPLE_PROBLEM": "alfworld", "COOL_APPLE_GOAL": "alfworld", "COOL_APPLE_PLAN": "alfworld",
    "make_alfworld_game": "alfworld", "ALFWorldEnv": "alfworld", "ALFWorldEnvironment": "alfworld",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
