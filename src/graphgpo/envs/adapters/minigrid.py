"""MiniGrid / BabyAI adapter (needs ``pip install minigrid``).

State key: ``env.unwrapped.hash(64)`` (the full SHA-256 of the encoded grid, agent position and agent
direction) followed by the encoding of the carried object. The hash alone does not say what the agent
carries (a picked-up object just vanishes from the grid), so the carried object is added explicitly. The
step counter and the mission are not part of the key: the mission is fixed per episode (one task group).

Observation text: the mission, the full map from ``pprint_grid()`` (two characters per cell: object letter
+ colour letter, e.g. ``WG`` grey wall, ``KY`` yellow key, ``LY`` locked yellow door, ``__`` open door, ``GG``
goal; the agent is ``>>``, ``VV``, ``<<`` or ``^^`` by facing) and what the agent carries.

Actions are MiniGrid's discrete actions by name: ``left``, ``right`` (turn), ``forward``, ``pickup``,
``drop``, ``toggle`` and ``done``. MiniGrid has no illegal actions, so a step is *valid* when it changed the
state (or ended the episode); a no-op such as walking into a wall is invalid, as is an unknown name (which
is not sent to the game but still uses a step).
"""

from __future__ import annotations

from typing import Any

from ._common import AdapterEnv, TracedAdapterEnvironment, require

__all__ = ["MINIGRID_ACTIONS", "MiniGridEnv", "MiniGridEnvironment"]

MINIGRID_ACTIONS: tuple[str, ...] = ("left", "right", "forward", "pickup", "drop", "toggle", "done")
_ALIASES = {
    "turn left": "left", "turn right": "right", "move forward": "forward", "go forward": "forward",
    "pick up": "pickup", "pick_up": "pickup", "open": "toggle",
}


def _parse_action(action: Any) -> int | None:
    """Index into :data:`MINIGRID_ACTIONS` of an action given as an int or a name; None if unknown."""
    if isinstance(action, bool):
        return None
    if isinstance(action, int):
        return action if 0 <= action < len(MINIGRID_ACTIONS) else None
    if isinstance(action, str):
        name = " ".join(action.strip().lower().split())
        name = _ALIASES.get(name, name)
        return MINIGRID_ACTIONS.index(name) if name in MINIGRID_ACTIONS else None
    return None


class MiniGridEnv(AdapterEnv):
    """A MiniGrid/BabyAI environment behind the plain step API of :class:`~graphgpo.envs.GridEnv`.

    Args:
        env_id: a registered MiniGrid or BabyAI id, e.g. ``"MiniGrid-DoorKey-5x5-v0"`` or
            ``"BabyAI-GoToRedBallGrey-v0"``.
        max_steps: steps per episode (default: the environment's own ``max_steps``, read at each reset).
        seed: seed of the generator that picks episode seeds when ``reset`` gets none.
        **make_kwargs: passed to ``gymnasium.make``.
    """

    actions = MINIGRID_ACTIONS

    def __init__(self, env_id: str = "MiniGrid-DoorKey-5x5-v0", *, max_steps: int | None = None,
                 seed: int | None = None, **make_kwargs: Any) -> None:
        gym = require("gymnasium", "minigrid", "MiniGrid")
        require("minigrid", "minigrid", "MiniGrid")  # registers the MiniGrid and BabyAI ids
        self.env_id = env_id
        self._gym_env = gym.make(env_id, **make_kwargs)
        self._u = self._gym_env.unwrapped
        # BabyAI sets its max_steps only when an episode is generated, so the default is read at reset.
        self._own_limit = max_steps is None
        super().__init__(max_steps=1 if max_steps is None else int(max_steps), seed=seed)

    def _reset(self, seed: int) -> str:
        self._gym_env.reset(seed=seed)
        if self._own_limit:
            self.max_steps = max(1, int(self._u.max_steps))
        return self._text()

    def _step(self, action: Any) -> tuple[str, bool, bool, bool, dict[str, Any]]:
        a = _parse_action(action)
        if a is None:
            note = f"Unknown action {action!r}; use one of {', '.join(MINIGRID_ACTIONS)}."
            return f"{note}\n{self._text()}", False, False, False, {"env_reward": 0.0}
        before = self.state_key()
        _, reward, terminated, truncated, _ = self._gym_env.step(a)
        success = bool(terminated and reward > 0)
        valid = bool(terminated) or self._compute_key() != before
        return self._text(), valid, success, bool(terminated or truncated), {"env_reward": float(reward)}

    def _compute_key(self) -> str:
        return f"{self._u.hash(64)}|{self._carrying()}"

    # -- helpers ----------------------------------------------------------------------------------------
    def _carrying(self) -> str:
        obj = self._u.carrying
        return "none" if obj is None else "-".join(str(int(v)) for v in obj.encode())

    def _text(self) -> str:
        obj = self._u.carrying
        carrying = "nothing" if obj is None else f"a {obj.color} {obj.type}"
        return f"Mission: {self._u.mission}\n{self._u.pprint_grid().rstrip()}\nCarrying: {carrying}"


class MiniGridEnvironment(TracedAdapterEnvironment):
    """MiniGrid/BabyAI for TRL's ``environment_factory``: one tool, ``act(action)``.

    ``reset`` accepts ``seed`` (int), which selects the generated episode.

    Args:
        env_id: a registered MiniGrid or BabyAI id.
        max_steps: tool calls allowed per episode (default: the environment's own limit).
    """

    def __init__(self, env_id: str = "MiniGrid-DoorKey-5x5-v0", max_steps: int | None = None) -> None:
        self._env = MiniGridEnv(env_id, max_steps=max_steps, seed=0)
        super().__init__()

    def _intro(self) -> str:
        return ("You are the agent in a grid world. The map shows two characters per cell: an object letter "
                "(W wall, F floor, K key, D closed door, L locked door, A ball, B box, G goal, V lava) and a "
                "colour letter; '  ' is empty floor, '__' an open door, and you are >>, VV, << or ^^ (facing "
                "right, down, left, up). Call act(action) with one of: left, "
                "right (turn), forward, pickup, drop, toggle (open a door in front of you), done.")

    def act(self, action: str) -> str:
        """Take one action in the grid world.

        Args:
            action: One of "left", "right" (turn in place), "forward", "pickup", "drop", "toggle" or "done".

        Returns:
            The mission, the map and what you carry after the action, with a note when it had no effect.
        """
        return self._act(action)
