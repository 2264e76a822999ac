"""TextWorld adapter (needs ``pip install textworld``): games made offline with ``tw-make``.

State key: the world facts (``EnvInfos(facts=True)``), each written as TextWorld prints a proposition
(e.g. ``at(chest: c, cookhouse: r)``), sorted, deduplicated and hashed with SHA-256 (:func:`facts_key`).
The move counter and the score are not facts, so ``look``, ``examine ...`` or a command the parser rejects
leave the key unchanged, and an action followed by its inverse (``open chest``, ``close chest``) returns
to the same key. Objects are named by their display names, so two objects with the same name and type
cannot be told apart (the player cannot either).

A step is *valid* when the command was one of the admissible commands of the state it was issued in; every
command is still sent to the game, whose parser answers invalid ones.

Games come from :func:`make_textworld_game`, which runs ``tw-make custom`` in a subprocess (the Inform7
compiler ships in the textworld wheel, so no download is involved) and caches the result by its options.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ._common import AdapterEnv, TracedAdapterEnvironment, facts_key, require

__all__ = ["make_textworld_game", "TextWorldEnv", "TextWorldEnvironment"]

# The Z-machine status line that ends every feedback: "\n\n>   <padding>  -= Room =-0/1".
_PROMPT_TAIL = re.compile(r"\n\s*>[^\n]*\Z")


def _tw_make_command() -> list[str]:
    exe = shutil.which("tw-make")
    if exe is None:
        candidate = Path(sys.executable).with_name("tw-make")
        if not candidate.exists():
            raise FileNotFoundError("the 'tw-make' script of the textworld package was not found on PATH")
        exe = str(candidate)
    return [exe]


def make_textworld_game(seed: int = 1234, *, world_size: int = 3, nb_objects: int = 5, quest_length: int = 3,
                        directory: str | os.PathLike | None = None, timeout: float = 120.0) -> Path:
    """Make (or reuse) a small TextWorld game offline with ``tw-make custom``; returns the ``.z8`` path.

    The same options give the same game. Games are cached under ``directory`` (default: a
    ``graphgpo-textworld`` folder in the system temp dir), one sub-folder per set of options, written to a
    scratch folder first and renamed into place, so concurrent callers never see a half-written game.

    Args:
        seed: ``tw-make`` seed.
        world_size: number of rooms.
        nb_objects: minimum number of objects.
        quest_length: number of commands of the quest.
        directory: cache folder.
        timeout: seconds allowed for ``tw-make``.

    Raises:
        ImportError: textworld is not installed.
        RuntimeError: ``tw-make`` failed (its output is included).
    """
    require("textworld", "textworld", "TextWorld")
    options = {"seed": int(seed), "world_size": int(world_size), "nb_objects": int(nb_objects),
               "quest_length": int(quest_length)}
    tag = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]
    root = Path(directory) if directory is not None else Path(tempfile.gettempdir()) / "graphgpo-textworld"
    final = root / f"custom-{tag}"
    game = final / "game.z8"
    if game.exists():
        return game
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".custom-{tag}-", dir=root))
    cmd = [*_tw_make_command(), "custom", "--world-size", str(world_size), "--nb-objects", str(nb_objects),
           "--quest-length", str(quest_length), "--seed", str(seed), "--output", str(scratch / "game.z8"),
           "-f", "--silent"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0 or not (scratch / "game.z8").exists():
            raise RuntimeError(f"tw-make failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        try:
            scratch.rename(final)
        except OSError:
            if not game.exists():  # lost a race only if the winner's game is there
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return game


def _normalize(command: str) -> str:
    return " ".join(str(command).strip().lower().split())


def clean_feedback(text: str) -> str:
    """Game feedback without the opening ASCII-art banner (lines without letters) and the prompt line."""
    lines = _PROMPT_TAIL.sub("", text or "").strip().splitlines()
    while lines and not any(ch.isalpha() for ch in lines[0]):
        lines.pop(0)
    return "\n".join(lines).strip()


class TextWorldEnv(AdapterEnv):
    """A TextWorld game behind the plain step API of :class:`~graphgpo.envs.GridEnv` (actions are commands).

    With ``game`` (a ``.z8``/``.ulx`` path) every episode replays that game and ``reset``'s seed does not
    matter (TextWorld games are deterministic). Without it, ``reset(seed)`` plays the game that
    :func:`make_textworld_game` makes from that seed and ``make_options`` (made once, then cached).

    Args:
        game: path of a game file, or None to generate games by seed.
        max_steps: steps per episode.
        seed: seed of the generator that picks episode seeds when ``reset`` gets none.
        **make_options: keyword arguments of :func:`make_textworld_game` other than ``seed``.
    """

    def __init__(self, game: str | os.PathLike | None = None, *, max_steps: int = 50, seed: int | None = None,
                 **make_options: Any) -> None:
        self._tw = require("textworld", "textworld", "TextWorld")
        super().__init__(max_steps=max_steps, seed=seed)
        self.game = None if game is None else str(game)
        self._make_options = make_options
        self._infos = self._tw.EnvInfos(facts=True, admissible_commands=True, won=True, lost=True,
                                        objective=True)
        self._env: Any = None
        self._path: str | None = None
        self._state: Any = None

    def _reset(self, seed: int) -> str:
        path = self.game if self.game is not None else str(make_textworld_game(seed, **self._make_options))
        if path != self._path:
            self.close()
            with warnings.catch_warnings():  # jericho: "not fully supported" (it only affects its own score)
                warnings.filterwarnings("ignore", message=".*is not fully supported")
                self._env = self._tw.start(path, request_infos=self._infos)
            self._path = path
        self._state = self._env.reset()
        return clean_feedback(self._state.feedback)

    def _step(self, action: Any) -> tuple[str, bool, bool, bool, dict[str, Any]]:
        command = _normalize(action)
        valid = command in self.admissible_commands()
        self._state, _, done = self._env.step(command)
        success = bool(self._state.won)
        return clean_feedback(self._state.feedback), valid, success, bool(done), {"lost": bool(self._state.lost)}

    def _compute_key(self) -> str:
        return facts_key(self.facts())

    # -- extras -----------------------------------------------------------------------------------------
    def facts(self) -> list[str]:
        """The current world facts as sorted strings (what the state key hashes)."""
        return sorted({str(f) for f in self._state.facts})

    def admissible_commands(self) -> list[str]:
        """Commands the game accepts in the current state."""
        return [_normalize(c) for c in self._state.admissible_commands or ()]

    def walkthrough(self) -> list[str]:
        """The commands that win the current game, from its ``.json`` next to the game file ([] if none)."""
        if self._path is None:
            raise RuntimeError("call reset() first")
        meta = Path(self._path).with_suffix(".json")
        if not meta.exists():
            return []
        return list(self._tw.Game.load(str(meta)).walkthrough or [])

    @property
    def objective(self) -> str:
        return self._state.objective if self._state is not None else ""

    def close(self) -> None:
        """Close the running game, if any."""
        if self._env is not None:
            self._env.close()
            self._env, self._path = None, None


class TextWorldEnvironment(TracedAdapterEnvironment):
    """TextWorld for TRL's ``environment_factory``: one tool, ``act(command)``.

    ``reset`` accepts ``seed`` (int; selects the generated game when no game is fixed) and ``game`` (path
    of a game file to play in this episode).

    Args:
        game: path of a game file to play in every episode, or None to generate games by seed.
        max_steps: tool calls allowed per episode.
        **make_options: keyword arguments of :func:`make_textworld_game` other than ``seed``.
    """

    def __init__(self, game: str | os.PathLike | None = None, max_steps: int = 50, **make_options: Any) -> None:
        self._env: TextWorldEnv = TextWorldEnv(game, max_steps=max_steps, seed=0, **make_options)
        self._default_game = self._env.game
        super().__init__()

    def _configure(self, kwargs: dict[str, Any]) -> None:
        game = kwargs.get("game")
        self._env.game = str(game) if game is not None else self._default_game

    def _intro(self) -> str:
        return ("You are playing a text adventure. Call act(command) with a short command such as "
                "'go north', 'open chest', 'take key', 'unlock door with key', 'put apple on table', "
                "'look' or 'inventory'.")

    def act(self, command: str) -> str:
        """Send one command to the text adventure.

        Args:
            command: A short command, e.g. "go east", "open chest" or "take key from box".

        Returns:
            The game's answer to the command.
        """
        return self._act(command)
