"""graphgpo.verl.compute_advantage on verl-agent style batches: rows in any order, uuid ids, every option.

Runs without verl on a stand-in batch (a dict of tensors and a dict of numpy arrays, which is all the
function reads) and, where verl is installed (CI's verl step), on a real ``verl.DataProto`` too.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphgpo
from graphgpo.testing.strategies import batches, options
from graphgpo.verl import Fields, MissingColumnError, compute_advantage

torch = pytest.importorskip("torch")

try:
    import verl  # noqa: F401  (the plugin tests need it; here it only adds the real DataProto)

    HAVE_VERL = True
except ImportError:
    HAVE_VERL = False

LENGTH = 5  # response tokens per row


class StandIn:
    """The two attributes of a DataProto that compute_advantage uses."""

    def __init__(self, tensors: dict, non_tensors: dict):
        self.batch = dict(tensors)
        self.non_tensor_batch = dict(non_tensors)


def to_verl(tensors: dict, non_tensors: dict, real: bool):
    if not real:
        return StandIn(tensors, non_tensors)
    from verl import DataProto

    return DataProto.from_dict(tensors=dict(tensors), non_tensors={k: np.asarray(v, dtype=object)
                                                                    for k, v in non_tensors.items()})


def uid(kind: str, value) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{kind}:{value}"))


def agent_batch(spec: dict, *, seed: int = 0, text_states: bool = True) -> tuple[dict, dict]:
    """A verl-agent batch for SPEC rows ``spec`` (batch order = spec order): uuid ids, text states, a step
    column, random response masks and the episode reward on each row's last response token."""
    rng = np.random.default_rng(seed)
    n = len(spec["group"])
    state = [f"room {s}" if text_states else s for s in spec["state"]]
    non_tensors = {
        "uid": np.array([uid("g", g) for g in spec["group"]], dtype=object),
        "traj_uid": np.array([uid("t", t) for t in spec["trajectory"]], dtype=object),
        "anchor_obs": np.array(state, dtype=object),
        "success": np.array([bool(s) for s in spec["success"]], dtype=object),
    }
    steps, seen = [], {}
    for t in spec["trajectory"]:
        steps.append(seen.get(t, 0))
        seen[t] = steps[-1] + 1
    non_tensors["step"] = np.array(steps, dtype=object)
    if spec.get("next_state") is not None:
        non_tensors["next_obs"] = np.array([f"room {s}" if text_states else s for s in spec["next_state"]],
                                           dtype=object)
    if spec.get("valid") is not None:
        non_tensors["is_action_valid"] = np.array([bool(v) for v in spec["valid"]], dtype=object)
    if spec.get("reward") is not None:
        non_tensors["rewards"] = np.array(spec["reward"], dtype=object)
    mask = torch.zeros(n, LENGTH, dtype=torch.int64)
    for i in range(n):
        lo = int(rng.integers(0, LENGTH))
        mask[i, lo:int(rng.integers(lo + 1, LENGTH + 1))] = 1
    rewards = torch.zeros(n, LENGTH)
    for i in range(n):
        rewards[i, int(mask[i].nonzero().max())] = 10.0 if spec["success"][i] else 0.0
    return {"response_mask": mask, "token_level_rewards": rewards}, non_tensors


def permuted(tensors: dict, non_tensors: dict, order: np.ndarray) -> tuple[dict, dict]:
    return ({k: v[torch.as_tensor(order)] for k, v in tensors.items()},
            {k: v[order] for k, v in non_tensors.items()})


def expected(method: str, spec: dict, **options) -> np.ndarray:
    rows = {k: v for k, v in spec.items() if v is not None and k not in ("cost", "action")}
    rows["state"] = [f"room {s}" for s in spec["state"]]
    if spec.get("next_state") is not None:
        rows["next_state"] = [f"room {s}" for s in spec["next_state"]]
    return graphgpo.advantages(method, **rows, **options)


def assert_on_tokens(data, values: np.ndarray) -> None:
    adv = data.batch["advantages"].double()
    mask = data.batch["response_mask"].bool()
    want = torch.as_tensor(values, dtype=torch.float64).unsqueeze(-1).expand_as(adv)
    # float32 storage: compare at float32 precision; outside the response exactly 0
    torch.testing.assert_close(adv[mask], want[mask].float().double(), rtol=0, atol=0)
    assert (adv[~mask] == 0).all()
    assert torch.equal(data.batch["returns"], data.batch["advantages"])


def spec_rows(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k not in ("cost", "action")}


REAL = [False, True] if HAVE_VERL else [False]


@pytest.mark.parametrize("real", REAL, ids=lambda r: "DataProto" if r else "stand-in")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=batches(with_cost=False, with_action=False), method=st.sampled_from(graphgpo.METHODS),
       data=st.data())
def test_shuffled_rows_equal_the_engine(real, spec, method, data):
    """Rows shuffled at random (a step column orders each trajectory) give each row its own advantage, with
    random SPEC options."""
    spec = spec_rows(spec)
    opts = data.draw(options(method))
    tensors, non_tensors = agent_batch(spec, seed=data.draw(st.integers(0, 99)))
    order = np.array(data.draw(st.permutations(range(len(spec["group"])))), dtype=np.int64)
    batch = to_verl(*permuted(tensors, non_tensors, order), real)
    out = compute_advantage(batch, method, **opts)
    assert out is batch
    assert_on_tokens(batch, expected(method, spec, **opts)[order])


@pytest.mark.parametrize("real", REAL, ids=lambda r: "DataProto" if r else "stand-in")
def test_interleaved_rows_without_a_step_column_keep_their_relative_order(real):
    spec = {"group": [0, 0, 0, 0, 0, 0, 0, 0, 0], "trajectory": [0, 0, 0, 1, 1, 2, 2, 2, 2],
            "state": list("ABCACADBB"), "next_state": list("BCXCYDBBC"),
            "success": [1, 1, 1, 1, 1, 0, 0, 0, 0], "valid": [1, 1, 1, 1, 1, 1, 0, 1, 1]}
    tensors, non_tensors = agent_batch(spec)
    del non_tensors["step"]
    order = np.array([5, 0, 3, 6, 1, 7, 4, 2, 8])  # trajectories interleaved, each in its own order
    batch = to_verl(*permuted(tensors, non_tensors, order), real)
    compute_advantage(batch, "graphgpo", omega=0.5)
    want = np.array([0.625042, 1.42061, 0.84326, 1.934349, 0.84326, -1.922214, -1.068269, -2.204043, -0.471993])
    np.testing.assert_allclose(batch.batch["advantages"][:, :].sum(-1).numpy()
                               / batch.batch["response_mask"].sum(-1).numpy(), want[order], atol=2e-6)


def test_every_option_reaches_the_engine():
    spec = {"group": [3, 3, 3, 3, 3, 3, 3, 3, 3], "trajectory": [0, 0, 0, 1, 1, 2, 2, 2, 2],
            "state": list("ABCACADBB"), "next_state": list("BCXCYDBBC"),
            "success": [1, 1, 1, 1, 1, 0, 0, 0, 0], "valid": [1, 1, 1, 1, 1, 1, 0, 1, 1]}
    tensors, non_tensors = agent_batch(spec)
    order = np.random.default_rng(1).permutation(9)
    options = {"omega": 0.5, "convention": "paper", "episode_stats": "per_trajectory", "norm": "mean",
               "step_weight": 0.7, "episode_weight": 1.3, "success_reward": 4.0, "invalid_penalty": 0.3,
               "eps": 1e-4, "normalize_distance": True, "gamma": 0.9, "distance": "shortest"}
    for method in graphgpo.METHODS:
        batch = StandIn(*permuted(tensors, non_tensors, order))
        compute_advantage(batch, method, num_threads=1, **options)
        assert_on_tokens(batch, expected(method, spec, **options)[order])
    with pytest.raises(ValueError, match="norm"):
        compute_advantage(StandIn(tensors, non_tensors), "graphgpo", norm="zscore")


def test_similar_states_merge_through_the_call():
    k, h, p = ("You are in the kitchen. A fridge, a table. Turn {}.", "You are in the hallway. A door, a coat "
               "rack. Turn {}.", "You are in the pantry. Shelves, a sack. Turn {}.")
    state = [k.format(1), h.format(2), k.format(1), p.format(2), k.format(3), h.format(4), k.format(1),
             p.format(2), p.format(3)]
    nxt = [h.format(2), "X", p.format(2), k.format(3), h.format(4), h.format(5), p.format(2), p.format(3),
           p.format(4)]
    spec = {"group": [0] * 9, "trajectory": [0, 0, 1, 1, 1, 1, 2, 2, 2], "success": [1, 1] + [0] * 7}
    tensors, non_tensors = agent_batch({**spec, "state": [0] * 9})
    non_tensors["anchor_obs"] = np.array(state, dtype=object)
    non_tensors["next_obs"] = np.array(nxt, dtype=object)
    order = np.random.default_rng(2).permutation(9)
    batch = StandIn(*permuted(tensors, non_tensors, order))
    compute_advantage(batch, "graphgpo", omega=0.5, merge="similar")
    want = np.array([2.918534, 1.763834, -1.081303, 0.203153, -0.503953, -0.503953, -1.081303, -1.211058,
                     -0.503953])  # SPEC's merge example
    per_row = batch.batch["advantages"].sum(-1) / batch.batch["response_mask"].sum(-1)
    np.testing.assert_allclose(per_row.numpy(), want[order], atol=2e-6)


def test_uuid_strings_map_to_ids_exactly():
    """Equal strings (even distinct objects, or numpy strings) are one id; different strings never are."""
    spec = {"group": [0, 0, 1, 1], "trajectory": [0, 1, 2, 3], "state": [0, 0, 0, 0],
            "success": [1, 0, 1, 0]}
    tensors, non_tensors = agent_batch(spec)
    g0 = uid("g", 0)
    non_tensors["uid"] = np.array([g0, "".join(g0), np.str_(g0), g0[:-1] + ("0" if g0[-1] != "0" else "1")],
                                  dtype=object)
    batch = StandIn(tensors, non_tensors)
    compute_advantage(batch, "grpo")
    per_row = (batch.batch["advantages"].sum(-1) / batch.batch["response_mask"].sum(-1)).numpy()
    want = graphgpo.grpo(group=[0, 0, 0, 1], trajectory=[0, 1, 2, 3], state=[0] * 4, success=[1, 0, 1, 0])
    np.testing.assert_allclose(per_row, want, atol=1e-6)


def test_missing_columns_are_named():
    spec = {"group": [0, 0], "trajectory": [0, 1], "state": [0, 1], "success": [1, 0]}
    tensors, non_tensors = agent_batch(spec)
    for column in ("uid", "traj_uid", "anchor_obs"):
        batch = StandIn(tensors, {k: v for k, v in non_tensors.items() if k != column})
        with pytest.raises(MissingColumnError, match=f"no '{column}' column"):
            compute_advantage(batch, "graphgpo")
    with pytest.raises(MissingColumnError, match="no 'response_mask' column"):
        compute_advantage(StandIn({"token_level_rewards": tensors["token_level_rewards"]}, non_tensors))
    with pytest.raises(MissingColumnError, match="no 'turn' column"):  # a renamed optional field is required
        compute_advantage(StandIn(tensors, non_tensors), "gigpo", fields={"step": "turn"})
    with pytest.raises(ValueError, match="unknown field 'stepp'"):
        compute_advantage(StandIn(tensors, non_tensors), "gigpo", fields={"stepp": "turn"})
    # grpo needs no states
    compute_advantage(StandIn(tensors, {k: v for k, v in non_tensors.items() if k != "anchor_obs"}), "grpo")


def test_renamed_columns():
    spec = {"group": [0, 0, 0], "trajectory": [0, 0, 1], "state": [0, 1, 0], "success": [1, 1, 0]}
    tensors, non_tensors = agent_batch(spec)
    renamed = {"task_id": non_tensors["uid"], "episode": non_tensors["traj_uid"], "obs": non_tensors["anchor_obs"],
               "won": non_tensors["success"], "turn": non_tensors["step"]}
    tensors = {"mask": tensors["response_mask"], "token_level_rewards": tensors["token_level_rewards"]}
    batch = StandIn(tensors, renamed)
    compute_advantage(batch, "gigpo", fields=Fields(group="task_id", trajectory="episode", state="obs",
                                                    success="won", step="turn", response_mask="mask"))
    per_row = batch.batch["advantages"].sum(-1) / tensors["mask"].sum(-1)
    np.testing.assert_allclose(per_row.numpy(), expected("gigpo", spec), atol=1e-6)


def test_engine_errors_name_the_verl_row_and_ids():
    spec = {"group": [0, 0, 1], "trajectory": [0, 0, 0], "state": [0, 1, 2], "success": [1, 1, 1]}
    tensors, non_tensors = agent_batch(spec)
    order = np.array([2, 0, 1])
    batch = StandIn(*permuted(tensors, non_tensors, order))
    with pytest.raises(ValueError, match=r"spread over groups.*verl batch row 0: traj_uid='" + uid("t", 0)):
        compute_advantage(batch, "graphgpo")
    non_tensors["step"] = np.array([0, 0, 1], dtype=object)
    with pytest.raises(ValueError, match="have the same step 0"):
        compute_advantage(StandIn(tensors, non_tensors), "graphgpo")


@pytest.mark.parametrize("source", ["success", "episode_rewards", "rewards", "token_level_scores",
                                    "token_level_rewards"])
def test_success_rules(source):
    """Without a success column, a trajectory succeeded iff its episode reward > 0 (verl-agent's rule)."""
    spec = {"group": [0] * 5, "trajectory": [0, 0, 1, 1, 2], "state": [0, 1, 0, 2, 0],
            "success": [1, 1, 0, 0, 1]}
    tensors, non_tensors = agent_batch(spec)
    want = expected("graphgpo", spec)
    if source != "success":
        del non_tensors["success"]
    if source == "episode_rewards":
        non_tensors["episode_rewards"] = np.array([10.0, 10.0, 0.0, 0.0, 3.0], dtype=object)
    if source == "token_level_scores":  # scores come before the KL-penalized rewards
        tensors["token_level_scores"] = tensors["token_level_rewards"].clone()
        tensors["token_level_rewards"] = tensors["token_level_rewards"] + 0.01
    batch = StandIn(tensors, non_tensors)
    if source == "rewards":  # per-step rewards also set the episode reward (SPEC reward)
        non_tensors["rewards"] = np.array([0.0, 10.0, 0.0, -1.0, 10.0], dtype=object)
        batch = StandIn(tensors, non_tensors)
        want = graphgpo.advantages("graphgpo", group=spec["group"], trajectory=spec["trajectory"],
                                   state=[f"room {s}" for s in spec["state"]], success=spec["success"],
                                   reward=[0.0, 10.0, 0.0, -1.0, 10.0])
    compute_advantage(batch, "graphgpo")
    per_row = batch.batch["advantages"].sum(-1) / tensors["response_mask"].sum(-1)
    np.testing.assert_allclose(per_row.numpy(), want, atol=1e-6)


def test_success_that_varies_within_a_trajectory_says_where_it_came_from():
    spec = {"group": [0, 0], "trajectory": [0, 0], "state": [0, 1], "success": [1, 0]}
    tensors, non_tensors = agent_batch(spec)
    with pytest.raises(ValueError, match="success is not constant.*success from column 'success'"):
        compute_advantage(StandIn(tensors, non_tensors), "graphgpo")


def test_empty_batch_and_dtype():
    batch = StandIn({"response_mask": torch.zeros(0, 3), "token_level_rewards": torch.zeros(0, 3)},
                    {"uid": np.array([], dtype=object), "traj_uid": np.array([], dtype=object),
                     "anchor_obs": np.array([], dtype=object)})
    compute_advantage(batch, "graphgpo")
    assert batch.batch["advantages"].shape == (0, 3)
    spec = {"group": [0, 0], "trajectory": [0, 1], "state": [0, 1], "success": [1, 0]}
    tensors, non_tensors = agent_batch(spec)
    tensors["token_level_rewards"] = tensors["token_level_rewards"].double()
    batch = StandIn(tensors, non_tensors)
    compute_advantage(batch, "grpo")
    assert batch.batch["advantages"].dtype == torch.float64


def memory_updates():
    """README's two updates of one task as verl-agent batches (new uids each update, as verl draws them)."""
    first = {"group": [0, 0, 0], "trajectory": [0, 0, 1], "state": list("ABA"), "next_state": list("BWC"),
             "success": [1, 1, 0]}
    second = {"group": [1] * 5, "trajectory": [2, 2, 3, 3, 3], "state": list("ABACC"),
              "next_state": list("BDCCE"), "success": [0] * 5}
    return first, second


@pytest.mark.parametrize("method", ["graphgpo", "progpo"])
@pytest.mark.parametrize("how", ["task=", "fields.task"])
def test_graph_memory_and_task_keys_pass_through(method, how):
    """memory= and the rows' task keys reach the engine in sorted order: the same as graphgpo.advantages
    with its own memory fed the same calls, and the second update's failed rows get credit from the first."""
    ours, theirs = graphgpo.GraphMemory(), graphgpo.GraphMemory()
    for update, spec in enumerate(memory_updates()):
        n = len(spec["group"])
        tensors, non_tensors = agent_batch(spec, seed=update)
        order = np.random.default_rng(update).permutation(n)
        tasks = np.array(["level-7"] * n, dtype=object)
        if how == "task=":
            batch = StandIn(*permuted(tensors, non_tensors, order))
            compute_advantage(batch, method, omega=0.5, memory=ours, task=tasks[order])
        else:
            batch = StandIn(*permuted(tensors, {**non_tensors, "level": tasks}, order))
            compute_advantage(batch, method, omega=0.5, memory=ours, fields={"task": "level"})
        want = expected(method, spec, omega=0.5, memory=theirs, task=list(tasks))
        assert_on_tokens(batch, want[order])
    assert ours.stats()["edges"] == theirs.stats()["edges"] > 0
    assert np.abs(want).max() > 0.1  # without the memory this all-failed batch gives every row 0


def test_task_keys_are_checked():
    spec = memory_updates()[0]
    tensors, non_tensors = agent_batch(spec)
    memory = graphgpo.GraphMemory()
    with pytest.raises(ValueError, match="one key per batch row: 3 rows"):
        compute_advantage(StandIn(tensors, non_tensors), "graphgpo", memory=memory, task=["a", "b"])
    with pytest.raises(ValueError, match="pass one"):
        compute_advantage(StandIn(tensors, {**non_tensors, "level": np.array([1, 1, 1])}), "graphgpo",
                          memory=memory, task=[1, 1, 1], fields={"task": "level"})
    with pytest.raises(ValueError, match="task is only used with memory="):
        compute_advantage(StandIn(tensors, non_tensors), "graphgpo", task=[1, 1, 1])
    assert memory.stats()["calls"] == 0
