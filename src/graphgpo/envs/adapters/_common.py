"""Shared pieces of the optional adapters: dependency checks, the step loop and the TRL step trace.

Nothing here imports a third-party environment package; each adapter calls :func:`require` when it is
constructed, so importing :mod:`graphgpo.envs.adapters` (or one of its modules) never needs them.
"""

from __future__ import annotations

import hashlib
import importlib
import random
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from .._trace import TracedEnvironment

__all__ = ["require", "facts_key", "AdapterEnv", "TracedAdapterEnvironment"]


def require(module: str, pip_name: str, adapter: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that names the pip package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the {adapter} adapter needs the {pip_name!r} package, which is not installed: "
            f"pip install {pip_name}  (or: pip install 'graphgpo[adapters]')"
        ) from exc


def facts_key(facts: Iterable[str]) -> str:
    """Exact key of a set of facts: the SHA-256 (hex) of the sorted, distinct facts joined by newlines.

    Equal fact sets give equal keys whatever the order the facts came in; a collision between two
    different sets would need a SHA-256 collision.
    """
    text = "\n".join(sorted(set(facts)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AdapterEnv:
    """Base of the adapters' plain step API (the same contract as :class:`graphgpo.envs.GridEnv`).

    ``reset(seed=None) -> obs``; ``step(action) -> (obs, reward, done, info)`` with ``info`` holding
    ``valid``, ``success``, ``state_key``, ``truncated`` and ``steps`` (plus adapter-specific entries).
    The reward is 1.0 on the step that reaches the goal, else 0.0. The episode ends on success, when the
    wrapped game ends it, or after ``max_steps`` steps. ``reset(seed=None)`` draws the seed from the
    environment's own generator, so a sequence of resets is deterministic given the constructor seed.

    Subclasses implement ``_reset(seed) -> obs``, ``_step(action) -> (obs, valid, success, terminal,
    extra_info)`` and ``_compute_key() -> str``.
    """

    def __init__(self, *, max_steps: int, seed: int | None) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        self.max_steps = int(max_steps)
        self._rng = random.Random(seed)
        self._key: str | None = None
        self._obs = ""
        self._steps = 0
        self._done = False

    # -- hooks ------------------------------------------------------------------------------------------
    def _reset(self, seed: int) -> str:
        raise NotImplementedError

    def _step(self, action: Any) -> tuple[str, bool, bool, bool, dict[str, Any]]:
        raise NotImplementedError

    def _compute_key(self) -> str:
        raise NotImplementedError

    # -- public API -------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> str:
        """Start a new episode and return the first observation (text)."""
        seed = self._rng.randrange(2**31) if seed is None else int(seed)
        self._obs = self._reset(seed)
        self._key = self._compute_key()
        self._steps = 0
        self._done = False
        return self._obs

    def step(self, action: Any) -> tuple[str, float, bool, dict[str, Any]]:
        """Apply one action and return ``(obs, reward, done, info)``."""
        if self._key is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode is over; call reset()")
        obs, valid, success, terminal, extra = self._step(action)
        self._obs = obs
        self._key = self._compute_key()
        self._steps += 1
        truncated = not (success or terminal) and self._steps >= self.max_steps
        self._done = success or terminal or truncated
        info = {"valid": bool(valid), "success": bool(success), "state_key": self._key,
                "truncated": truncated, "steps": self._steps, **extra}
        return obs, (1.0 if success else 0.0), self._done, info

    def state_key(self) -> str:
        """Exact key of the current state: equal keys mean identical states."""
        if self._key is None:
            raise RuntimeError("call reset() first")
        return self._key

    def render(self) -> str:
        """The latest observation."""
        return self._obs

    @property
    def done(self) -> bool:
        return self._done

    @property
    def steps(self) -> int:
        return self._steps


class TracedAdapterEnvironment(TracedEnvironment):
    """Base of the adapters' TRL ``environment_factory`` classes: the one trace recorder
    (:class:`~graphgpo.envs._trace.TracedEnvironment`) with the adapters' texts.

    Subclasses set ``_env`` (an :class:`AdapterEnv`) in ``__init__`` before calling ``super().__init__()``,
    implement ``_intro``, may override ``_configure`` (per-row ``reset`` arguments other than ``seed``) and
    expose exactly one public tool method that calls :meth:`_act`.
    """

    _env: AdapterEnv
