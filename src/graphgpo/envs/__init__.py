"""Bundled multi-turn environments with exact state keys and exact optimal distances.

- :class:`Sokoban`: text Sokoban on generated, provably solvable small levels.
- :class:`KeyDoor`: a gridworld where a key opens a locked door in front of the goal.
- :class:`SokobanEnvironment`, :class:`KeyDoorEnvironment`: the same games as TRL ``environment_factory``
  classes that record a GraphGPO step trace.
- :mod:`graphgpo.envs.adapters` (imported lazily, optional packages): MiniGrid/BabyAI, TextWorld and
  ALFWorld-domain games behind the same step API and trace protocol (docs/adapters.md).

Every environment is deterministic given its seed, renders its state as text (the observation, which is
also the exact state key), and knows the true optimal distance to the goal of any state
(:meth:`GridEnv.true_distance`), which the demo uses to score credit assignment.
"""

from ._base import MOVES, GridEnv, Level
from ._solver import StateTable, TooManyStates, explore
from .keydoor import KeyDoor, KeyDoorLevel, generate_keydoor
from .sokoban import Sokoban, SokobanLevel, generate_sokoban
from .trl_envs import KeyDoorEnvironment, SokobanEnvironment

__all__ = [
    "MOVES", "GridEnv", "Level", "StateTable", "TooManyStates", "explore",
    "Sokoban", "SokobanLevel", "generate_sokoban",
    "KeyDoor", "KeyDoorLevel", "generate_keydoor",
    "SokobanEnvironment", "KeyDoorEnvironment", "make",
]

_ENVS = {"sokoban": Sokoban, "keydoor": KeyDoor}


def make(name: str, **kwargs) -> GridEnv:
    """Construct a bundled environment by name (``"sokoban"`` or ``"keydoor"``)."""
    try:
        cls = _ENVS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown environment {name!r}; expected one of {sorted(_ENVS)}") from None
    return cls(**kwargs)
