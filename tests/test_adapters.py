"""Optional adapters (MiniGrid, TextWorld, ALFWorld-domain): state keys, step API, step trace, engine.

Each adapter's tests call ``pytest.importorskip`` on its package first, so they are skipped where it is not
installed; the lazy-import and error-message tests run everywhere.
"""

from __future__ import annotations

import inspect
import random
import subprocess
import sys

import numpy as np
import pytest

import graphgpo

# -- helpers --------------------------------------------------------------------------------------------


def _public_methods(obj) -> set[str]:
    return {n for n, _ in inspect.getmembers(obj, callable) if not n.startswith("_")}


def _check_trace_protocol(env, actions) -> None:
    """Step-trace protocol (docs/guide.md): one (s, s', valid) per call, chained, cleared by reset."""
    assert _public_methods(env) == {"act", "reset", "get_reward"}
    first = env.reset(seed=3)
    assert isinstance(first, str) and first
    assert env.graphgpo_trace == [] and env.graphgpo_success is False
    for a in actions:
        assert isinstance(env.act(a), str)
    assert len(env.graphgpo_trace) == len(actions)
    for (_, s2, valid), (t, _, _) in zip(env.graphgpo_trace, env.graphgpo_trace[1:]):
        assert s2 == t and isinstance(valid, bool)
    for s, s2, _ in env.graphgpo_trace:
        assert isinstance(s, str) and isinstance(s2, str)
    env.reset(seed=3)
    assert env.graphgpo_trace == [] and env.graphgpo_success is False


def _check_engine(traces: list[tuple[list, bool]]) -> None:
    """Rows from several rollouts of one task: the engine runs, and revisited states share a node."""
    rows = [(t, s, s2, v, ok) for t, (trace, ok) in enumerate(traces) for s, s2, v in trace]
    traj, state, next_state, valid, success = (list(c) for c in zip(*rows))
    fields = dict(group=np.zeros(len(rows), np.int64), trajectory=np.asarray(traj, np.int64), state=state,
                  next_state=next_state, valid=np.asarray(valid), success=np.asarray(success))
    adv = graphgpo.advantages("graphgpo", **fields)
    assert adv.shape == (len(rows),) and np.isfinite(adv).all()
    graphs = graphgpo.build_graphs(**fields)
    # Node 0 is SUCCESS, the others are distinct states (a goal state may be merged into SUCCESS).
    distinct = len(set(state) | set(next_state))
    assert graphs.num_nodes(0) - 1 <= distinct < len(rows)


def _random_rollouts(make_env, choose, n: int, steps: int, seed: int = 0) -> list[tuple[list, bool]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        env = make_env()
        env.reset(seed=3)
        for _ in range(steps):
            if env._env.done:
                break
            env.act(choose(env, rng))
        out.append((list(env.graphgpo_trace), env.graphgpo_success))
    return out


# -- always: lazy imports and error messages ------------------------------------------------------------


def test_importing_envs_does_not_import_optional_packages():
    # Resolving every lazy name imports the adapter modules, but none of the third-party packages.
    code = ("import sys, graphgpo.envs, graphgpo.envs.adapters as A\n"
            "assert A.__all__ and all(getattr(A, n) is not None for n in A.__all__)\n"
            "bad = [m for m in ('minigrid', 'gymnasium', 'textworld', 'alfworld') if m in sys.modules]\n"
            "assert not bad, bad\n"
            "try:\n    A.nope\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit('no error')\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("module, cls, blocked, package", [
    ("minigrid", "MiniGridEnv", ("gymnasium", "minigrid"), "minigrid"),
    ("textworld", "TextWorldEnv", ("textworld",), "textworld"),
    ("alfworld", "ALFWorldEnv", ("textworld", "alfworld", "alfworld.info",
                                 "alfworld.agents.environment.alfred_tw_env"), "alfworld"),
])
def test_missing_package_error_names_it(monkeypatch, module, cls, blocked, package):
    mod = __import__(f"graphgpo.envs.adapters.{module}", fromlist=[cls])
    for name in blocked:
        monkeypatch.setitem(sys.modules, name, None)
    if module == "alfworld":
        mod._domain_and_grammar.cache_clear()
    with pytest.raises(ImportError, match=f"pip install {package}"):
        getattr(mod, cls)()
    if module == "alfworld":
        mod._domain_and_grammar.cache_clear()


# -- MiniGrid -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mg():
    pytest.importorskip("minigrid")
    from graphgpo.envs.adapters import minigrid
    return minigrid


def test_minigrid_determinism_by_seed(mg):
    rng = random.Random(1)
    actions = [rng.choice(mg.MINIGRID_ACTIONS[:3]) for _ in range(20)]
    runs = []
    for _ in range(2):
        env = mg.MiniGridEnv(seed=0)
        keys = [env.reset(seed=5), env.state_key()]
        for a in actions:
            obs, _, done, info = env.step(a)
            keys += [obs, info["state_key"], info["valid"]]
            if done:
                break
        runs.append(keys)
    assert runs[0] == runs[1]
    env = mg.MiniGridEnv()
    assert len({(env.reset(seed=s), env.state_key())[1] for s in range(5)}) > 1
    babyai = mg.MiniGridEnv("BabyAI-GoToRedBallGrey-v0")  # sets its step limit only at reset
    assert babyai.reset(seed=1).startswith("Mission: go to the red ball") and babyai.max_steps > 1


def test_minigrid_inverse_and_noop_keep_key(mg):
    env = mg.MiniGridEnv("MiniGrid-DoorKey-5x5-v0")
    obs = env.reset(seed=3)
    assert obs.startswith("Mission: ") and "Carrying: nothing" in obs
    k0 = env.state_key()
    assert env.step("left")[3]["state_key"] != k0
    info = env.step("right")[3]
    assert info["state_key"] == k0 and info["valid"]
    for noop in ("done", "fly"):  # MiniGrid's no-op action, an unknown name
        info = env.step(noop)[3]
        assert info["state_key"] == k0 and not info["valid"]
    with pytest.raises(RuntimeError):
        mg.MiniGridEnv().step("left")


def test_minigrid_key_includes_carried_object(mg):
    env = mg.MiniGridEnv()
    env.reset(seed=3)
    u = env._u
    u.carrying = None
    without = env._compute_key()
    from minigrid.core.world_object import Ball
    u.carrying = Ball("red")
    assert env._compute_key() != without and env._compute_key().split("|")[0] == without.split("|")[0]


def test_minigrid_trace_protocol_and_engine(mg):
    _check_trace_protocol(mg.MiniGridEnvironment(), ["left", "forward", "done", "nonsense", "right"])
    rollouts = _random_rollouts(mg.MiniGridEnvironment, lambda env, rng: rng.choice(["left", "right", "forward"]),
                                n=4, steps=12)
    _check_engine(rollouts)


# -- TextWorld ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tw(tmp_path_factory):
    pytest.importorskip("textworld")
    from graphgpo.envs.adapters import textworld
    game = textworld.make_textworld_game(1, directory=tmp_path_factory.mktemp("tw"))
    return textworld, game


def test_textworld_game_is_cached_and_deterministic(tw):
    mod, game = tw
    assert mod.make_textworld_game(1, directory=game.parent.parent) == game
    runs = []
    for _ in range(2):
        env = mod.TextWorldEnv(game)
        trail = [env.reset(seed=0), env.state_key()]
        rng = random.Random(2)
        for _ in range(8):
            obs, _, done, info = env.step(rng.choice(env.admissible_commands()))
            trail += [obs, info["state_key"]]
            if done:
                break
        runs.append(trail)
    assert runs[0] == runs[1]
    assert "Welcome" in runs[0][0] and "$$" not in runs[0][0]  # banner stripped


def test_textworld_look_invalid_and_inverse(tw):
    mod, game = tw
    env = mod.TextWorldEnv(game)
    env.reset()
    k0 = env.state_key()
    assert env.step("look")[3]["state_key"] == k0
    info = env.step("xyzzy")[3]
    assert info["state_key"] == k0 and not info["valid"]
    opens = [c for c in env.admissible_commands() if c.startswith("open ")]
    assert opens
    info = env.step(opens[0])[3]
    assert info["valid"] and info["state_key"] != k0
    info = env.step("close " + opens[0][len("open "):])[3]
    assert info["valid"] and info["state_key"] == k0


def test_textworld_walkthrough_wins(tw):
    mod, game = tw
    env = mod.TextWorldEnv(game)
    env.reset()
    plan = env.walkthrough()
    assert plan
    for i, cmd in enumerate(plan):
        _, reward, done, info = env.step(cmd)
        assert info["valid"] and done == (i == len(plan) - 1)
    assert info["success"] and reward == 1.0


def test_textworld_trace_protocol_and_engine(tw):
    mod, game = tw
    _check_trace_protocol(mod.TextWorldEnvironment(game), ["look", "inventory", "xyzzy"])
    solved = mod.TextWorldEnvironment(game)
    solved.reset()
    for cmd in solved._env.walkthrough():
        solved.act(cmd)
    assert solved.graphgpo_success and solved.get_reward() == 1.0
    rollouts = _random_rollouts(lambda: mod.TextWorldEnvironment(game),
                                lambda env, rng: rng.choice(env._env.admissible_commands()), n=3, steps=8)
    _check_engine([(solved.graphgpo_trace, True), *rollouts])


# -- ALFWorld domain ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alf():
    pytest.importorskip("alfworld")
    pytest.importorskip("textworld")
    from graphgpo.envs.adapters import alfworld
    return alfworld


def test_alfworld_plan_wins_deterministically(alf):
    runs = []
    for _ in range(2):
        env = alf.ALFWorldEnv()
        trail = [env.reset(seed=0), env.state_key()]
        assert "Your task is to: cool some apple and put it in fridge." in trail[0]
        for cmd in alf.COOL_APPLE_PLAN:
            obs, reward, done, info = env.step(cmd)
            assert info["valid"]
            trail += [obs, info["state_key"]]
        assert done and info["success"] and reward == 1.0
        runs.append(trail)
    assert runs[0] == runs[1]


def test_alfworld_key_drops_not_facts_and_checked(alf):
    env = alf.ALFWorldEnv()
    env.reset()
    k0 = env.state_key()
    for cmd in ("look", "inventory", "examine apple 1", "xyzzy"):  # no-ops (the last two not admissible)
        info = env.step(cmd)[3]
        assert info["state_key"] == k0 and info["valid"] == (cmd in ("look", "inventory"))
    # Via the countertop or directly: the same state once not_* facts are dropped.
    k_direct = env.step("go to fridge 1")[3]["state_key"]
    env.reset()
    env.step("go to countertop 1")
    assert env.step("go to fridge 1")[3]["state_key"] == k_direct
    assert not any(f.startswith(("not_", "checked")) for f in env.facts())
    # open then close returns to the same key; with checked(...) kept it does not.
    for keep, same in ((False, True), (True, False)):
        env = alf.ALFWorldEnv(keep_checked=keep)
        env.reset()
        k = env.step("go to fridge 1")[3]["state_key"]
        assert env.step("open fridge 1")[3]["state_key"] != k
        assert (env.step("close fridge 1")[3]["state_key"] == k) is same


def test_alfworld_custom_problem(alf):
    # Same kitchen, another goal: some fridge is open (while an apple exists).
    problem = alf.COOL_APPLE_PROBLEM.replace("(isCool ?o)", "(opened ?r)").replace("(inReceptacle ?o ?r) ", "")
    env = alf.ALFWorldEnv(problem, "open the fridge")
    assert "Your task is to: open the fridge." in env.reset()
    env.step("go to fridge 1")
    assert env.step("open fridge 1")[3]["success"]


def test_alfworld_trace_protocol_and_engine(alf):
    _check_trace_protocol(alf.ALFWorldEnvironment(), ["look", "go to cabinet 1", "fly away"])
    solved = alf.ALFWorldEnvironment()
    solved.reset()
    for cmd in alf.COOL_APPLE_PLAN:
        solved.act(cmd)
    assert solved.graphgpo_success and len(solved.graphgpo_trace) == len(alf.COOL_APPLE_PLAN)
    rollouts = _random_rollouts(alf.ALFWorldEnvironment,
                                lambda env, rng: rng.choice(env._env.admissible_commands()), n=3, steps=8)
    _check_engine([(solved.graphgpo_trace, True), *rollouts])
