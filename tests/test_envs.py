"""Bundled environments: determinism, exact solver, step API, state keys and the TRL step-trace protocol."""

from __future__ import annotations

import inspect
import math
import random

import pytest

from graphgpo.envs import (
    KeyDoor,
    KeyDoorEnvironment,
    KeyDoorLevel,
    Sokoban,
    SokobanEnvironment,
    SokobanLevel,
    generate_keydoor,
    generate_sokoban,
    make,
)
from graphgpo.envs._solver import shortest_distance

# Hand-made Sokoban levels and their optimal solution lengths (in steps), worked out by hand.
SOKOBAN_LEVELS = [
    ("#####\n#@$.#\n#####", 1),  # one push
    ("######\n#@ $.#\n######", 2),  # walk, push
    ("#######\n#.  $@#\n#######", 3),  # three pushes left
    ("#######\n#.$@$.#\n#######", 3),  # push left, step back, push right
    # The player must walk around the box (6 steps) before pushing it right twice.
    ("#######\n#     #\n# $ .@#\n#     #\n#######", 8),
]

KEYDOOR_LEVEL = "#######\n#@.K#G#\n#...D.#\n#######"  # right, right (key), down, right (door), right, up


def _follow_optimal(env) -> int:
    """Play greedily along the exact distance table; returns the number of steps to success."""
    table = env.level.table
    steps = 0
    while True:
        j = table.key_index[env.state_key()]
        best = min(range(len(env.actions)), key=lambda a: table.dist[table.next[j, a]])
        _, reward, done, info = env.step(env.actions[best])
        steps += 1
        assert info["valid"]
        if done:
            assert info["success"] and reward == 1.0
            return steps


# -- Sokoban -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,optimal", SOKOBAN_LEVELS)
def test_sokoban_solver_matches_hand_counted_optimum(text, optimal):
    level = SokobanLevel.from_text(text)
    assert level.render(level.start) == text  # the board is its own state key
    assert level.table.dist[0] == optimal
    assert shortest_distance(level.start, level.successors, level.is_goal) == optimal
    env = Sokoban(level=text, max_steps=50)
    env.reset()
    assert env.true_distance() == optimal
    assert _follow_optimal(env) == optimal


def test_sokoban_deadlock_has_infinite_distance():
    env = Sokoban(level=SOKOBAN_LEVELS[-1][0], max_steps=50)
    env.reset()
    for move in ["down", "left", "left", "left"]:  # walk below the box
        assert env.step(move)[3]["valid"]
    assert env.true_distance() == 4  # still solvable: left, up, then two pushes right
    _, _, done, info = env.step("up")  # push the box against the top wall: it can never reach the goal row
    assert info["valid"] and not done
    assert math.isinf(env.true_distance())
    assert math.isinf(env.true_distance(info["state_key"]))


def test_sokoban_invalid_moves_leave_state_unchanged():
    env = Sokoban(level="#######\n#@$$..#\n#######", max_steps=5)
    start = env.reset()
    for move in ["up", "down", "left", "right"]:  # wall, wall, wall, blocked push (box behind box)
        obs, reward, done, info = env.step(move)
        assert not info["valid"] and obs == start and info["state_key"] == start and reward == 0.0
        assert not done
    obs, _, done, info = env.step("right")
    assert done and info["truncated"] and not info["success"]  # invalid moves use steps too
    with pytest.raises(RuntimeError):
        env.step("up")


def test_sokoban_returning_to_a_state_gives_the_same_key():
    env = Sokoban(level=SOKOBAN_LEVELS[-1][0], max_steps=50)
    start = env.reset()
    for path in (["up", "down"], ["left", "right"], ["up", "left", "down", "right"]):
        keys = [env.step(m)[3]["state_key"] for m in path]
        assert keys[-1] == start == env.state_key()
        assert len(set(keys)) == len(keys)
    # On a generated level, equal keys mean equal internal states along a random walk.
    env = Sokoban(seed=3, max_steps=200)
    env.reset()
    rng = random.Random(1)
    seen: dict[str, object] = {}
    for _ in range(150):
        _, _, done, info = env.step(rng.choice(env.actions))
        assert seen.setdefault(info["state_key"], env._state) == env._state
        if done:
            break
    assert len(seen) < 150  # the walk did revisit states


def test_sokoban_is_deterministic_by_seed():
    a, b = Sokoban(seed=3), Sokoban(seed=3)
    assert [a.reset() for _ in range(4)] == [b.reset() for _ in range(4)]
    assert Sokoban(seed=4).reset(seed=9) == Sokoban(seed=5).reset(seed=9)
    assert len({Sokoban().reset(seed=s) for s in range(10)}) > 5
    rng = random.Random(0)
    env1, env2 = Sokoban(seed=1), Sokoban(seed=1)
    env1.reset(), env2.reset()
    for _ in range(20):
        move = rng.choice(env1.actions)
        assert env1.step(move) == env2.step(move)


@pytest.mark.parametrize("size,boxes", [(5, 1), (6, 1), ((5, 6), 2), (6, 2)])
def test_generated_sokoban_levels_are_solvable(size, boxes):
    for seed in range(5):
        level = generate_sokoban(seed, size, boxes, min_distance=4, max_distance=14)
        d = level.table.dist[0]
        assert 4 <= d <= 14
        assert level.num_boxes == boxes
        env = Sokoban(level=level, max_steps=100)
        env.reset()
        assert _follow_optimal(env) == d


def test_sokoban_table_distances_are_optimal():
    """The backward BFS over the enumerated table agrees with an independent forward BFS."""
    level = generate_sokoban(7, 5, 2, min_distance=5, max_distance=12)
    table = level.table
    rng = random.Random(0)
    for j in rng.sample(range(table.num_states), 40):
        assert table.dist[j] == shortest_distance(table.states[j], level.successors, level.is_goal)
    # Bellman consistency: a solvable non-goal state has a successor one step closer.
    for j in range(table.num_states):
        if table.goal[j] or math.isinf(table.dist[j]):
            continue
        assert min(table.dist[table.next[j, a]] for a in range(4) if table.valid[j, a]) == table.dist[j] - 1


def test_true_distance_of_foreign_state_key():
    env = Sokoban(seed=0)
    env.reset()
    text, optimal = SOKOBAN_LEVELS[-1]
    assert env.true_distance(text) == optimal


# -- KeyDoor -------------------------------------------------------------------------------------------

def test_keydoor_hand_made_level():
    level = KeyDoorLevel.from_text(KEYDOOR_LEVEL)
    assert level.render(level.start) == KEYDOOR_LEVEL
    assert level.table.dist[0] == 6
    env = KeyDoor(level=KEYDOOR_LEVEL, max_steps=20)
    start = env.reset()
    # Without the key the door is like a wall.
    for move in ["down", "right", "right"]:
        assert env.step(move)[3]["valid"]
    obs, _, _, info = env.step("right")
    assert not info["valid"] and obs == env.state_key() and "D" in obs
    assert env.true_distance() == 5  # up to the key, back down, through the door, right, up
    env.reset()
    assert env.state_key() == start
    assert _follow_optimal(env) == 6


def test_keydoor_state_key_tracks_key_and_door():
    env = KeyDoor(level=KEYDOOR_LEVEL, max_steps=20)
    start = env.reset()
    env.step("right")
    env.step("right")  # picks up the key
    assert "K" not in env.state_key()
    env.step("left")
    env.step("left")  # back on the start cell, but holding the key: a different state
    assert env.state_key() != start
    assert env.state_key().replace("@", "x") == start.replace("K", ".").replace("@", "x")
    for move in ["right", "right", "down", "right"]:
        _, _, _, info = env.step(move)
    assert info["valid"] and "&" in info["state_key"]  # in the doorway: the door is open
    env.step("left")
    assert "/" in env.state_key()
    # Round trip through the text key.
    assert KeyDoorLevel.from_text(env.state_key()).render(KeyDoorLevel.from_text(env.state_key()).start) == \
        env.state_key()
    assert env.true_distance(env.state_key()) == env.true_distance() == 3  # right, right, up


def test_generated_keydoor_levels_are_solvable_and_deterministic():
    for seed in range(8):
        level = generate_keydoor(seed, (5, 7), min_distance=6)
        assert 6 <= level.table.dist[0] < math.inf
        assert generate_keydoor(seed, (5, 7), min_distance=6).render(level.start) == level.render(level.start)
        env = KeyDoor(level=level, max_steps=100)
        env.reset()
        assert _follow_optimal(env) == level.table.dist[0]
    assert KeyDoor(seed=2).reset() == KeyDoor(seed=2).reset()


def test_make_and_action_names():
    env = make("sokoban", seed=0, max_steps=3)
    assert env.actions == ("up", "down", "left", "right")
    env.reset()
    env.step(0)
    env.step("L")
    with pytest.raises(ValueError):
        env.step("jump")
    with pytest.raises(ValueError):
        make("chess")
    assert isinstance(make("keydoor", seed=0), KeyDoor)


# -- TRL environment classes ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [SokobanEnvironment, KeyDoorEnvironment])
def test_trl_environment_exposes_only_move_as_tool(cls):
    public = {name for name, _ in inspect.getmembers(cls, predicate=inspect.isfunction) if not name.startswith("_")}
    assert public == {"reset", "move", "get_reward"}
    doc = inspect.getdoc(cls.move)
    assert "Args:" in doc and "direction:" in doc
    assert inspect.signature(cls.move).parameters["direction"].annotation in (str, "str")


def test_trl_tool_schema_is_accepted_by_transformers():
    utils = pytest.importorskip("transformers.utils")
    schema = utils.get_json_schema(SokobanEnvironment().move)
    assert schema["function"]["name"] == "move"
    assert schema["function"]["parameters"]["properties"]["direction"]["type"] == "string"


def test_sokoban_environment_trace_protocol():
    text, optimal = SOKOBAN_LEVELS[1]  # "#@ $.#": right, right
    env = SokobanEnvironment()
    first = env.reset(level=text, prompt=[{"role": "user", "content": "play"}])  # extra columns are ignored
    assert text in first and env.graphgpo_trace == [] and env.graphgpo_success is False
    start = text
    out = env.move("up")  # wall
    assert "Invalid" in out
    out = env.move("sideways")  # not a direction: invalid, state unchanged
    assert "unknown direction" in out
    out = env.move("Right")
    after = "######\n# @$.#\n######"
    assert after in out
    assert env.graphgpo_trace == [(start, start, False), (start, start, False), (start, after, True)]
    assert env.get_reward() == 0.0
    out = env.move("right")
    assert "Solved" in out and env.graphgpo_success is True and env.get_reward() == 1.0
    assert env.graphgpo_trace[-1] == (after, "######\n#  @*#\n######", True)
    n = len(env.graphgpo_trace)
    out = env.move("left")  # after success: a message, no trace
    assert "already solved" in out and len(env.graphgpo_trace) == n
    env.reset(seed=5)
    assert env.graphgpo_trace == [] and env.graphgpo_success is False


def test_trl_environment_seeds_and_step_limit():
    a, b = SokobanEnvironment(), SokobanEnvironment()
    assert a.reset(seed=42) == b.reset(seed=42)
    env = KeyDoorEnvironment(max_steps=2)
    env.reset(seed=1)
    env.move("up")
    out = env.move("down")
    assert "No moves left" in out
    assert len(env.graphgpo_trace) == 2
    assert "over" in env.move("left") and len(env.graphgpo_trace) == 2
    for before, after, valid in env.graphgpo_trace:
        assert isinstance(before, str) and isinstance(after, str) and isinstance(valid, bool)
        assert valid == (before != after)
