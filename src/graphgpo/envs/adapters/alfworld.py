"""ALFWorld-domain adapter (needs ``pip install alfworld``): hand-written PDDL games, fully offline.

``alfworld-download`` needs GitHub, but the wheel ships the ALFRED PDDL domain (``alfred.pddl``) and its
text grammar (``alfred.twl2``). A game is a ``.tw-pddl`` JSON file holding the domain, the grammar (with
the task sentence put in place of ``UNKNOWN GOAL``) and a PDDL *problem*; TextWorld's ``PddlEnv`` plays it,
behind ALFWorld's ``AlfredDemangler`` (ALFRED ids such as ``Apple_bar__minus_01_dot_00...`` become
"apple 1") and ``AlfredInfos`` wrappers. :data:`COOL_APPLE_PROBLEM` ("cool some apple and put it in
fridge", optimal plan of 6 commands) is the default game; pass any other problem text and task sentence.
Importing ``alfworld`` creates its data folder (``$ALFWORLD_DATA``, default ``~/.cache/alfworld``).

State key: the world facts minus every ``not_*`` fact and minus every ``checked(...)`` fact, sorted and
hashed with SHA-256 (:func:`~graphgpo.envs.adapters._common.facts_key`). ``not_*`` facts are residues of
the PDDL-to-TextWorld translation (``go to countertop 1`` then ``go to fridge 1`` would otherwise differ
from ``go to fridge 1``). ``checked(x)`` only records that something was looked at, opened or examined:
the domain sets it in effects but never reads it in a precondition, the goal or the text grammar, so two
states that differ only in ``checked`` facts behave identically and are merged (``look``, ``examine`` and
``inventory`` are then no-ops for the key). Pass ``keep_checked=True`` to keep them.

A step is *valid* when the command was admissible in the state it was issued in; other commands are still
sent to the game, which answers "Nothing happens." and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from ._common import AdapterEnv, TracedAdapterEnvironment, facts_key, require

__all__ = ["COOL_APPLE_PROBLEM", "COOL_APPLE_GOAL", "COOL_APPLE_PLAN", "make_alfworld_game", "ALFWorldEnv",
           "ALFWorldEnvironment"]

COOL_APPLE_GOAL = "cool some apple and put it in fridge"
# A shortest solution of COOL_APPLE_PROBLEM (the tests play it).
COOL_APPLE_PLAN: tuple[str, ...] = ("go to countertop 1", "take apple 1 from countertop 1", "go to fridge 1",
                                    "open fridge 1", "cool apple 1 with fridge 1", "move apple 1 to fridge 1")

# A small kitchen: an apple on the countertop, a mug in a closed cabinet, a closed fridge. Ids follow
# ALFRED's mangled "Type|..." form ("|" written "_bar_") so that the demangler names them "apple 1" etc.
# The domain refers to the Sink/SinkBasin/Microwave/Fridge and Knife/ButterKnife type constants, so the
# problem declares them.
COOL_APPLE_PROBLEM = """\
(define (problem plan_cool_apple)
  (:domain alfred)
  (:objects
    agent1 - agent
    SinkBasinType - rtype
    SinkType - rtype
    MicrowaveType - rtype
    FridgeType - rtype
    CounterTopType - rtype
    CabinetType - rtype
    KnifeType - otype
    ButterKnifeType - otype
    AppleType - otype
    MugType - otype
    Apple_bar_01 - object
    Mug_bar_01 - object
    CounterTop_bar_01 - receptacle
    Fridge_bar_01 - receptacle
    Cabinet_bar_01 - receptacle
    loc_bar_countertop - location
    loc_bar_fridge - location
    loc_bar_cabinet - location
    loc_bar_start - location
  )
  (:init
    (atLocation agent1 loc_bar_start)
    (receptacleAtLocation CounterTop_bar_01 loc_bar_countertop)
    (receptacleAtLocation Fridge_bar_01 loc_bar_fridge)
    (receptacleAtLocation Cabinet_bar_01 loc_bar_cabinet)
    (receptacleType CounterTop_bar_01 CounterTopType)
    (receptacleType Fridge_bar_01 FridgeType)
    (receptacleType Cabinet_bar_01 CabinetType)
    (openable Fridge_bar_01)
    (openable Cabinet_bar_01)
    (inReceptacle Apple_bar_01 CounterTop_bar_01)
    (objectAtLocation Apple_bar_01 loc_bar_countertop)
    (inReceptacle Mug_bar_01 Cabinet_bar_01)
    (objectAtLocation Mug_bar_01 loc_bar_cabinet)
    (objectType Apple_bar_01 AppleType)
    (objectType Mug_bar_01 MugType)
    (pickupable Apple_bar_01)
    (pickupable Mug_bar_01)
    (coolable Apple_bar_01)
    (heatable Apple_bar_01)
    (coolable Mug_bar_01)
    (canContain CounterTopType AppleType)
    (canContain CounterTopType MugType)
    (canContain FridgeType AppleType)
    (canContain FridgeType MugType)
    (canContain CabinetType MugType)
  )
  (:goal
    (exists (?o - object ?r - receptacle)
      (and (inReceptacle ?o ?r) (objectType ?o AppleType) (receptacleType ?r FridgeType) (isCool ?o))))
)
"""



@lru_cache(maxsize=1)
def _domain_and_grammar() -> tuple[str, str]:
    info = require("alfworld.info", "alfworld", "ALFWorld")
    return Path(info.ALFRED_PDDL_PATH).read_text(), Path(info.ALFRED_TWL2_PATH).read_text()


def make_alfworld_game(problem: str = COOL_APPLE_PROBLEM, goal: str = COOL_APPLE_GOAL, *,
                       directory: str | os.PathLike | None = None) -> Path:
    """Write (or reuse) the ``.tw-pddl`` game of a PDDL problem in the ALFRED domain; returns its path.

    Args:
        problem: PDDL problem text (``(define (problem ...) (:domain alfred) ...)``).
        goal: the task sentence shown to the player ("Your task is to: <goal>.").
        directory: cache folder (default: a ``graphgpo-alfworld`` folder in the system temp dir). Files
            are named by the hash of their content and written atomically.

    Raises:
        ImportError: alfworld is not installed.
    """
    domain, grammar = _domain_and_grammar()
    grammar = grammar.replace("UNKNOWN GOAL", goal.strip().rstrip("."))
    game = {"pddl_domain": domain, "grammar": grammar, "pddl_problem": problem, "solvable": True}
    text = json.dumps(game, sort_keys=True)
    root = Path(directory) if directory is not None else Path(tempfile.gettempdir()) / "graphgpo-alfworld"
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.tw-pddl"
    if not path.exists():
        fd, scratch = tempfile.mkstemp(prefix=".game-", suffix=".tw-pddl", dir=root)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(scratch, path)
    return path


def _key_fact(name: str, keep_checked: bool) -> bool:
    return not name.startswith("not_") and (keep_checked or name != "checked")


class ALFWorldEnv(AdapterEnv):
    """An ALFWorld-domain PDDL game behind the plain step API of :class:`~graphgpo.envs.GridEnv`.

    Games are deterministic, so ``reset``'s seed does not change the episode (it is accepted for the
    common API). ``info`` also holds ``admissible_commands`` of the new state.

    Args:
        problem: PDDL problem text (default :data:`COOL_APPLE_PROBLEM`); ignored when ``game`` is given.
        goal: task sentence of ``problem`` (default :data:`COOL_APPLE_GOAL`).
        game: path of an existing ``.tw-pddl`` game file instead.
        max_steps: steps per episode.
        seed: accepted for the common API.
        keep_checked: keep ``checked(...)`` facts in the state key (see the module docstring).
    """

    def __init__(self, problem: str | None = None, goal: str | None = None, *,
                 game: str | os.PathLike | None = None, max_steps: int = 50, seed: int | None = None,
                 keep_checked: bool = False) -> None:
        self._tw = require("textworld", "alfworld", "ALFWorld")
        wrappers = require("alfworld.agents.environment.alfred_tw_env", "alfworld", "ALFWorld")
        self._wrappers = [wrappers.AlfredDemangler(), wrappers.AlfredInfos]
        super().__init__(max_steps=max_steps, seed=seed)
        self.keep_checked = bool(keep_checked)
        self._infos = self._tw.EnvInfos(facts=True, admissible_commands=True, won=True, feedback=True)
        self._env: Any = None
        self._path: str | None = None
        self._state: Any = None
        self.set_game(problem, goal, game=game)

    def set_game(self, problem: str | None = None, goal: str | None = None, *,
                 game: str | os.PathLike | None = None) -> None:
        """Choose the game of the next :meth:`reset` (same arguments as the constructor)."""
        if game is not None:
            self.game = str(Path(game).resolve())
        else:
            self.game = str(make_alfworld_game(problem or COOL_APPLE_PROBLEM,
                                               goal or (COOL_APPLE_GOAL if problem is None else "UNKNOWN GOAL")))

    def _reset(self, seed: int) -> str:
        if self.game != self._path:
            self.close()
            self._env = self._tw.start(self.game, request_infos=self._infos, wrappers=self._wrappers)
            self._path = self.game
        self._state = self._env.reset()
        return self._state.feedback.strip()

    def _step(self, action: Any) -> tuple[str, bool, bool, bool, dict[str, Any]]:
        command = " ".join(str(action).strip().lower().split())
        valid = command in self.admissible_commands()
        self._state, _, done = self._env.step(command)
        success = bool(self._state.won)
        extra = {"admissible_commands": self.admissible_commands()}
        return self._state.feedback.strip(), valid, success, bool(done), extra

    def _compute_key(self) -> str:
        return facts_key(self.facts())

    # -- extras -----------------------------------------------------------------------------------------
    def facts(self) -> list[str]:
        """The facts the state key hashes, as sorted strings."""
        return sorted({str(f) for f in self._state.facts if _key_fact(f.name, self.keep_checked)})

    def admissible_commands(self) -> list[str]:
        """Commands the game accepts in the current state."""
        return list(self._state.admissible_commands or ())

    def close(self) -> None:
        """Close the running game, if any."""
        if self._env is not None:
            self._env.close()
            self._env, self._path = None, None


class ALFWorldEnvironment(TracedAdapterEnvironment):
    """ALFWorld-domain games for TRL's ``environment_factory``: one tool, ``act(command)``.

    ``reset`` accepts ``seed`` (ignored: games are deterministic), ``problem`` and ``goal`` (a PDDL problem
    and its task sentence to play in this episode) or ``game`` (a ``.tw-pddl`` path).

    Args:
        problem: default PDDL problem (default :data:`COOL_APPLE_PROBLEM`).
        goal: its task sentence.
        max_steps: tool calls allowed per episode.
    """

    def __init__(self, problem: str | None = None, goal: str | None = None, max_steps: int = 30) -> None:
        self._env: ALFWorldEnv = ALFWorldEnv(problem, goal, max_steps=max_steps, seed=0)
        self._default = (problem, goal)
        super().__init__()

    def _configure(self, kwargs: dict[str, Any]) -> None:
        if kwargs.get("game") is not None:
            self._env.set_game(game=kwargs["game"])
        elif kwargs.get("problem") is not None:
            self._env.set_game(kwargs["problem"], kwargs.get("goal"))
        else:
            self._env.set_game(*self._default)

    def _intro(self) -> str:
        return ("You are a household robot. Call act(command) with one command at a time, e.g. 'go to "
                "fridge 1', 'open fridge 1', 'take apple 1 from countertop 1', 'move apple 1 to fridge 1', "
                "'cool apple 1 with fridge 1', 'heat ...', 'clean ...', 'examine ...', 'inventory' or 'look'.")

    def act(self, command: str) -> str:
        """Send one command to the household.

        Args:
            command: A command such as "go to countertop 1" or "take apple 1 from countertop 1".

        Returns:
            What happened, as text.
        """
        return self._act(command)
