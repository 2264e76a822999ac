"""The one step-trace recorder of the TRL ``environment_factory`` classes (step-trace protocol: `graphgpo docs guide`).

TRL turns every public method of an environment class except ``reset`` and ``get_reward`` into a tool, from
its signature and Google-style docstring. Each concrete class therefore exposes exactly one tool method that
calls :meth:`TracedEnvironment._act`; everything else is private or a property. Each tool call that reaches
the wrapped environment appends ``(state_key, next_state_key, valid)`` to ``graphgpo_trace`` and
``graphgpo_success`` turns True on the call that reaches the goal. Once the episode is over (goal reached, or
out of steps) tool calls only answer with a message and record nothing, so the trace describes exactly the
environment steps that happened. ``reset`` clears both.

The bundled grid games (:mod:`graphgpo.envs.trl_envs`) and the optional adapters
(:mod:`graphgpo.envs.adapters`) subclass it and differ only in their texts and in how an action is applied.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from typing import Any

__all__ = ["TracedEnvironment"]


class TracedEnvironment:
    """Base of the traced TRL environments.

    Subclasses set ``self._env`` (an environment with ``reset(seed=...)``, ``state_key()``, ``done`` and a
    step, see :meth:`_step`) before calling ``super().__init__()``, implement :meth:`_intro`, and may
    override the hooks :meth:`_configure`, :meth:`_step`, :meth:`_observe`, :meth:`_result` and the texts
    :attr:`SOLVED_TEXT` / :attr:`OVER_TEXT`.
    """

    _env: Any
    SOLVED_TEXT = "The task is already done. No further actions are needed."
    OVER_TEXT = "The episode is over: no actions left."

    def __init__(self) -> None:
        self.graphgpo_trace: list[tuple[Hashable, Hashable, bool]] = []
        self.graphgpo_success: bool = False
        # Seeds for rows that bring none, so that repeated resets still vary deterministically.
        self._rng = random.Random(0)

    # -- hooks ------------------------------------------------------------------------------------------
    def _intro(self) -> str:
        raise NotImplementedError

    def _configure(self, kwargs: dict[str, Any]) -> bool:
        """Apply per-row keyword arguments of :meth:`reset` other than ``seed``; True when they fix the
        episode completely (no seed is drawn for a row without one)."""
        return False

    def _step(self, action: Any) -> tuple[str, bool, dict[str, Any]]:
        """Apply one action: ``(observation, done, info)`` with ``info["state_key"]``, ``["valid"]`` and
        ``["success"]``."""
        obs, _, done, info = self._env.step(action)
        return obs, done, info

    def _observe(self, observation: str) -> str:
        """The text of an observation as the model sees it."""
        return observation

    def _result(self, observation: str, action: Any, info: dict[str, Any], done: bool) -> str:
        """What a tool call that stepped returns."""
        if info["success"]:
            return f"{observation}\n\nTask complete!"
        note = "" if info["valid"] else "\n\n(That action had no effect.)"
        if done:
            note += "\n\nThe episode is over."
        return f"{observation}{note}"

    # -- the protocol -----------------------------------------------------------------------------------
    def reset(self, **kwargs: Any) -> str:
        """Start a new episode; returns the task description and the first observation.

        ``seed`` (int) selects the episode; subclasses document further keyword arguments. Other dataset
        columns are ignored.
        """
        self.graphgpo_trace = []
        self.graphgpo_success = False
        fixed = self._configure(kwargs)
        seed = kwargs.get("seed")
        if seed is None and not fixed:
            seed = self._rng.randrange(2**31)
        obs = self._env.reset(seed=None if seed is None else int(seed))
        return f"{self._intro()}\n\n{self._observe(obs)}"

    def _act(self, action: Any) -> str:
        """One tool call: step the environment and record it, or answer that the episode is over."""
        if self._env.done:
            return self.SOLVED_TEXT if self.graphgpo_success else self.OVER_TEXT
        before = self._env.state_key()
        obs, done, info = self._step(action)
        self.graphgpo_trace.append((before, info["state_key"], info["valid"]))
        if info["success"]:
            self.graphgpo_success = True
        return self._result(self._observe(obs), action, info, done)

    @property
    def done(self) -> bool:
        """Whether the episode is over (goal reached, or out of steps); a property, so not a tool."""
        return self._env.done

    def get_reward(self) -> float:
        """1.0 when the goal was reached in this episode, else 0.0."""
        return 1.0 if self.graphgpo_success else 0.0
