"""graphgpo's estimators inside verl: the ``verl.plugins`` entry point, verl's own advantage code, Ray
workers, and the v1 trainer that carries per-turn states. Needs the ``verl`` extra (CI's verl step)."""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("verl")
torch = pytest.importorskip("torch")

from test_verl import StandIn, agent_batch, expected, permuted  # noqa: E402
from verl.trainer.ppo.core_algos import AdvantageEstimator  # noqa: E402

import graphgpo  # noqa: E402
from graphgpo.verl import compute_advantage, registry  # noqa: E402
from graphgpo.verl import plugin as plugin_module  # noqa: E402

NAMES = {registry.registry_name(m, {e.value for e in AdvantageEstimator}): m for m in graphgpo.METHODS}
SPEC_ROWS = {"group": [0] * 9, "trajectory": [0, 0, 0, 1, 1, 2, 2, 2, 2], "state": list("ABCACADBB"),
             "next_state": list("BCXCYDBBC"), "success": [1, 1, 1, 1, 1, 0, 0, 0, 0],
             "valid": [1, 1, 1, 1, 1, 1, 0, 1, 1]}


def registered_in_this_process() -> dict:
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY

    return {k: getattr(v, registry.MARK) for k, v in ADV_ESTIMATOR_REGISTRY.items() if hasattr(v, registry.MARK)}


def test_names_cover_every_method():
    assert {"graphgpo": "graphgpo", "gigpo": "gigpo", "graphgpo_grpo": "grpo"}.items() <= NAMES.items()
    assert registered_in_this_process() == NAMES


@pytest.mark.slow
def test_import_verl_registers_the_estimators_in_a_fresh_process():
    """The entry point registers the estimators on ``import verl``; VERL_USE_EXTERNAL_MODULES (verl's way to
    import a module in every process, the docs' way to load the trainer) registers the trainer modes."""
    code = ("import json, verl\n"
            "from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY as r\n"
            "from verl.trainer.ppo.v1 import get_trainer_cls\n"
            "print(json.dumps([{k: getattr(v, 'graphgpo_method') for k, v in r.items()"
            " if hasattr(v, 'graphgpo_method')}, get_trainer_cls('graphgpo_sync').__name__]))\n")
    env = {k: v for k, v in os.environ.items() if k != "VERL_USE_EXTERNAL_PLUGINS"}
    env["VERL_USE_EXTERNAL_MODULES"] = "graphgpo.verl.trainer"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    names, trainer = json.loads(out.stdout.strip().splitlines()[-1])
    assert names == NAMES
    assert trainer == "GraphGPOPPOTrainerSync"


def test_reloading_the_plugin_keeps_one_entry_per_name():
    importlib.reload(plugin_module)
    importlib.reload(plugin_module)
    assert plugin_module.REGISTERED == NAMES
    assert registered_in_this_process() == NAMES


def test_a_plugin_that_cannot_register_logs_a_warning(monkeypatch, caplog):
    def fail():
        raise RuntimeError("no registry here")

    monkeypatch.setattr(registry, "register_estimators", fail)
    with caplog.at_level(logging.WARNING, logger="graphgpo.verl"):
        importlib.reload(plugin_module)
    assert plugin_module.REGISTERED == {}
    assert any(r.levelno == logging.WARNING and "no registry here" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    importlib.reload(plugin_module)
    assert plugin_module.REGISTERED == NAMES


def test_a_name_taken_by_another_package_is_left_alone(monkeypatch, caplog):
    from verl.trainer.ppo import core_algos

    def theirs(**kwargs):
        raise AssertionError("not called")

    monkeypatch.setitem(core_algos.ADV_ESTIMATOR_REGISTRY, "gigpo", theirs)
    with caplog.at_level(logging.WARNING, logger="graphgpo.verl"):
        done = registry.register_estimators()
    assert "gigpo" not in done and core_algos.ADV_ESTIMATOR_REGISTRY["gigpo"] is theirs
    assert any("already registered" in r.getMessage() for r in caplog.records)


def verl_batch(order):
    from verl import DataProto

    tensors, non_tensors = permuted(*agent_batch(SPEC_ROWS), order)
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors), tensors, non_tensors


def per_row(data) -> np.ndarray:
    return (data.batch["advantages"].sum(-1) / data.batch["response_mask"].sum(-1)).double().numpy()


def algorithm_config(**section):
    from omegaconf import OmegaConf

    return OmegaConf.create({"adv_estimator": "graphgpo", "gamma": 1.0, "graphgpo": section})


def test_verl_compute_advantage_with_turn_rows_equals_the_call():
    """verl's own compute_advantage, with the step rows provided as the trainer does, gives the same
    advantages as graphgpo.verl.compute_advantage and as the engine (options from algorithm.graphgpo)."""
    from verl.trainer.ppo.ray_trainer import compute_advantage as verl_compute_advantage

    order = np.random.default_rng(5).permutation(9)
    for name, method in NAMES.items():
        data, tensors, non_tensors = verl_batch(order)
        with registry.turn_rows(data.non_tensor_batch):
            verl_compute_advantage(data, adv_estimator=name, config=algorithm_config(omega=0.5))
        want = expected(method, SPEC_ROWS, omega=0.5)[order]
        np.testing.assert_allclose(per_row(data), want, atol=2e-6)
        ours = compute_advantage(StandIn(tensors, non_tensors), method, omega=0.5)
        assert torch.equal(ours.batch["advantages"], data.batch["advantages"])


def test_stock_verl_grpo_equals_verls_grpo_and_graph_methods_explain():
    from verl.trainer.ppo.ray_trainer import compute_advantage as verl_compute_advantage

    rng = np.random.default_rng(0)
    mask = torch.ones(8, 4, dtype=torch.int64)
    mask[:, 3] = 0
    scores = torch.zeros(8, 4)
    scores[:, 2] = torch.as_tensor(rng.integers(0, 2, 8), dtype=torch.float32)
    uids = np.array(["a", "a", "a", "a", "b", "b", "b", "b"], dtype=object)
    from verl import DataProto

    def run(name):
        data = DataProto.from_dict(tensors={"token_level_rewards": scores.clone(), "response_mask": mask.clone()},
                                   non_tensors={"uid": uids.copy()})
        return verl_compute_advantage(data, adv_estimator=name, config=algorithm_config())

    ours, theirs = run("graphgpo_grpo"), run("grpo")
    torch.testing.assert_close(ours.batch["advantages"], theirs.batch["advantages"], rtol=0, atol=1e-6)
    for name in ("graphgpo", "gigpo"):
        with pytest.raises(ValueError, match="stock verl passes a registered advantage estimator only"):
            run(name)


def test_estimator_takes_the_batch_as_keyword_arguments():
    """A recipe can call the registry function with the batch, as verl does for GDPO."""
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn

    order = np.random.default_rng(9).permutation(9)
    _, tensors, non_tensors = verl_batch(order)
    adv, ret = get_adv_estimator_fn("gigpo")(token_level_rewards=tensors["token_level_rewards"],
                                              response_mask=tensors["response_mask"],
                                              index=non_tensors["uid"], config=None,
                                              non_tensor_batch=non_tensors)
    got = (adv.sum(-1) / tensors["response_mask"].sum(-1)).double().numpy()
    np.testing.assert_allclose(got, expected("gigpo", SPEC_ROWS)[order], atol=2e-6)
    assert torch.equal(adv, ret)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with one CPU. On a heavily loaded machine Ray's raylet can miss its own start-up deadline
    (a fixed 30 s in ray/_private/node.py): that is retried, then skipped with the reason (not our code)."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    error = None
    for _ in range(3):
        try:
            ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
            break
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception for a start-up timeout
            if "timed out during startup" not in str(exc):
                raise
            error = exc
            ray.shutdown()
    else:
        pytest.skip(f"local Ray did not start on this machine: {error}")
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_a_ray_worker_finds_and_runs_the_estimators(local_ray):
    """In a Ray worker process, ``import verl`` registers the names and the estimator runs there."""

    @local_ray.remote
    def in_worker(non_tensors, tensors):
        import os

        import verl  # noqa: F401  (the plugin registers on import)
        from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, get_adv_estimator_fn

        names = {k: v.graphgpo_method for k, v in ADV_ESTIMATOR_REGISTRY.items()
                 if hasattr(v, "graphgpo_method")}
        adv, _ = get_adv_estimator_fn("graphgpo")(token_level_rewards=tensors["token_level_rewards"],
                                                  response_mask=tensors["response_mask"],
                                                  index=non_tensors["uid"], non_tensor_batch=non_tensors)
        return os.getpid(), names, adv

    order = np.random.default_rng(3).permutation(9)
    tensors, non_tensors = permuted(*agent_batch(SPEC_ROWS), order)
    pid, names, adv = local_ray.get(in_worker.remote(non_tensors, tensors), timeout=900)
    assert pid != os.getpid()
    assert names == NAMES
    got = (adv.sum(-1) / tensors["response_mask"].sum(-1)).double().numpy()
    np.testing.assert_allclose(got, expected("graphgpo", SPEC_ROWS)[order], atol=2e-6)


# -- the v1 trainer: per-turn step fields from the agent loop's extra_fields ---------------------------------


class FakeTransferQueue:
    """The two TransferQueue calls PPOTrainer._compute_advantage makes, over rows stored the way verl's
    agent loop stores them (list_of_dict_to_tensordict of AgentLoopOutput.as_dict() plus the prompt's
    fields)."""

    def __init__(self, rows: dict):
        self.rows = rows  # key -> field dict
        self.put: dict = {}

    def kv_batch_get(self, keys, partition_id, select_fields):
        from verl.utils.tensordict_utils import list_of_dict_to_tensordict

        present = [f for f in select_fields if f in self.rows[keys[0]]]
        return list_of_dict_to_tensordict([{f: self.rows[k][f] for f in present} for k in keys])

    def kv_batch_put(self, keys, partition_id, fields):
        self.put = {"keys": list(keys), "fields": fields}
        return None


def agent_loop_rows(order):
    """SPEC_ROWS as verl v1 agent-loop turns: uid 'u0', session = trajectory, turn index = step; the step
    fields in extra_fields; the final turn's reward on every turn (as verl does)."""
    rows, steps = {}, {}
    rng = np.random.default_rng(11)
    for i in range(9):
        t = SPEC_ROWS["trajectory"][i]
        turn = steps.get(t, 0)
        steps[t] = turn + 1
        length = int(rng.integers(2, 5))
        reward = torch.zeros(length)
        reward[-1] = 10.0 * SPEC_ROWS["success"][i]
        rows[f"u0_{t}_{turn}"] = {
            "uid": "u0", "responses": torch.arange(length), "response_mask": torch.ones(length, dtype=torch.int64),
            "rm_scores": reward,
            "extra_fields": {"anchor_obs": f"room {SPEC_ROWS['state'][i]}", "next_obs": f"room {SPEC_ROWS['next_state'][i]}",
                             "is_action_valid": bool(SPEC_ROWS["valid"][i]), "reward_extra_info": {}},
        }
    keys = list(rows)
    return rows, [keys[i] for i in order]


@pytest.fixture(scope="module")
def trainer_module():
    pytest.importorskip("transfer_queue")
    from graphgpo.verl import trainer

    return trainer


@pytest.mark.parametrize("method", sorted(NAMES))
def test_graphgpo_trainer_carries_turn_states_to_the_estimator(trainer_module, monkeypatch, method):
    from omegaconf import OmegaConf
    from transfer_queue import KVBatchMeta
    from verl.trainer.ppo.v1 import trainer_base

    order = np.random.default_rng(4).permutation(9)
    rows, keys = agent_loop_rows(order)
    fake = FakeTransferQueue(rows)
    monkeypatch.setattr(trainer_base, "tq", fake)
    monkeypatch.setattr(trainer_module, "tq", fake)
    trainer = object.__new__(trainer_module.GraphGPOTrainerSync)
    trainer.config = OmegaConf.create({
        "algorithm": {"adv_estimator": method, "gamma": 1.0, "lam": 1.0, "use_kl_in_reward": False,
                      "norm_adv_by_std_in_grpo": True, "graphgpo": {"omega": 0.5}},
        "actor_rollout_ref": {"rollout": {"n": 3}}})
    trainer._compute_advantage(KVBatchMeta(keys=keys, tags=[{}] * 9, partition_id="train"), {})
    assert fake.put["keys"] == keys
    advantages = fake.put["fields"]["advantages"]
    got = np.array([float(advantages[i].double().mean()) for i in range(9)])
    spec = dict(SPEC_ROWS)
    np.testing.assert_allclose(got, expected(NAMES[method], spec, omega=0.5)[order], atol=2e-6)


def test_graphgpo_trainer_modes_behave_as_the_stock_modes(trainer_module, monkeypatch):
    from omegaconf import OmegaConf
    from verl.trainer.ppo.v1 import PPOTrainer, get_trainer_cls

    monkeypatch.setattr(PPOTrainer, "_build_replay_buffer", lambda self: (self.trainer_mode, self.parameter_sync_step))
    for mode, stock in (("graphgpo_sync", "sync"), ("graphgpo_separate_async", "separate_async")):
        trainer = object.__new__(get_trainer_cls(mode))
        trainer.config = OmegaConf.create({"trainer": {"v1": {"trainer_mode": mode, "separate_async":
                                                              {"parameter_sync_step": 4}}}})
        trainer.trainer_mode = mode
        assert trainer._build_replay_buffer() == (stock, 4 if stock == "separate_async" else 1)


def test_turn_columns_name_what_is_wrong(trainer_module):
    fields = graphgpo.verl.Fields()
    cols = trainer_module.turn_columns(["a_0_1", "a_0_0", "b_2_0"], [{"anchor_obs": "x"}, {"anchor_obs": "y"},
                                                                    {"anchor_obs": "z"}], fields)
    assert cols["uid"].tolist() == ["a", "a", "b"] and cols["traj_uid"].tolist() == ["a_0", "a_0", "b_2"]
    assert cols["step"].tolist() == [1, 0, 0] and cols["anchor_obs"].tolist() == ["x", "y", "z"]
    with pytest.raises(ValueError, match="not on turn 'a_0_0'"):
        trainer_module.turn_columns(["a_0_1", "a_0_0"], [{"anchor_obs": "x"}, {}], fields)
    with pytest.raises(ValueError, match="is not verl v1's"):
        trainer_module.turn_columns(["nokey"], [{}], fields)
