"""Graph memory in the TRL trainer (issue 13 item 4): config fields, task keys, the memory across training steps
checked against the plain-Python memory reference, checkpoints and resume.

The scripted LineWorld run (tests/trl_helpers.py) succeeds in its first step and fails in every later one, so
the second step's step credit can only come from the memory.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

import trl_helpers as H  # noqa: E402

import graphgpo  # noqa: E402
from graphgpo.testing.reference_memory import MemoryReference, reference_memory_advantages  # noqa: E402
from graphgpo.trl import GraphGPOConfig  # noqa: E402
from graphgpo.trl import trainer as trainer_module  # noqa: E402
from graphgpo.trl._memory import MEMORY_FILE, task_keys  # noqa: E402
from graphgpo.trl._steps import batch_advantages, records_from_traces  # noqa: E402

OMEGA = 0.5
MEMORY = {"graph_memory": True, "task_column": "goal"}


def _config(**kw) -> GraphGPOConfig:
    return GraphGPOConfig("unused", use_cpu=True, report_to="none", **kw)


# -- config and task keys -------------------------------------------------------------------------------


def test_config_fields_turn_the_memory_on_and_bound_it():
    off = _config()
    assert (off.graph_memory, off.max_edges_per_task, off.max_edges, off.max_age, off.task_column) == (
        False, None, None, None, None)
    on = _config(graph_memory=True, max_edges_per_task=5, max_edges=0, max_age=3, task_column="level")
    assert on.memory_bounds() == {"max_edges_per_task": 5, "max_edges": 0, "max_age": 3}
    with pytest.raises(ValueError, match="max_edges=10 bounds the graph memory, which is off"):
        _config(max_edges=10)
    with pytest.raises(ValueError, match="task_column='level' keys the graph memory, which is off"):
        _config(task_column="level")
    with pytest.raises(ValueError, match="max_age must be None .* >= 0, got -1"):
        _config(graph_memory=True, max_age=-1)
    with pytest.raises(ValueError, match="max_edges_per_task must be None .* got 2.5"):
        _config(graph_memory=True, max_edges_per_task=2.5)
    with pytest.raises(ValueError, match="needs an advantage_estimator that takes a memory .*'gigpo'"):
        _config(graph_memory=True, advantage_estimator="gigpo")
    with pytest.raises(ValueError, match="needs distance='shortest', got 'expected'"):
        _config(graph_memory=True, distance="expected")
    with pytest.raises(ValueError, match="needs merge='exact', got 'similar'"):
        _config(graph_memory=True, merge="similar")
    _config(graph_memory=True, advantage_estimator="progpo")


def test_config_memory_fields_parse_from_the_command_line():
    from transformers import HfArgumentParser

    (cfg,) = HfArgumentParser(GraphGPOConfig).parse_args_into_dataclasses(
        ["--output_dir", "unused", "--use_cpu", "--report_to", "none", "--graph_memory", "--max_edges", "100",
         "--task_column", "goal"])
    assert (cfg.graph_memory, cfg.max_edges, cfg.max_age, cfg.task_column) == (True, 100, None, "goal")


def test_task_keys_follow_the_column_or_the_prompt():
    rows = [{"goal": 3, "level": "a", "prompt": [{"role": "user", "content": "walk"}]},
            {"goal": 3, "level": "b", "prompt": [{"role": "user", "content": "walk"}]},
            {"goal": 2, "level": "a", "prompt": [{"role": "user", "content": "run"}]}]
    assert task_keys(rows, "goal").tolist() == [3, 3, 2]  # ints are the key, as graphgpo.advantages takes them
    by_level = task_keys(rows, "level")
    assert by_level[0] == by_level[2] != by_level[1]
    # str keys are the engine's: graphgpo.advantages(..., task=["a"]) stores under the same key
    assert by_level[0] == graphgpo.memory.task_keys(["a"], 1)[0]
    by_prompt = task_keys(rows, None)
    assert by_prompt[0] == by_prompt[1] != by_prompt[2]
    assert task_keys([{"prompt": "walk"}], None)[0] != task_keys([{"prompt": "run"}], None)[0]
    with pytest.raises(ValueError, match="task_column='lvl': rollout 0's dataset row has no such column"):
        task_keys(rows, "lvl")
    with pytest.raises(ValueError, match="rollout 0's value must be a str or an int, got float"):
        task_keys([{"goal": 1.5}], "goal")
    with pytest.raises(ValueError, match="rollout 0's prompt cannot key the graph memory"):
        task_keys([{"prompt": [{"role": "user", "content": object()}]}], None)


# -- batch_advantages with a memory ---------------------------------------------------------------------


def _rows_for_reference(traces, successes, tasks, num_generations):
    """The trainer's rows (synthetic stop rows included) with the reference's hashable states."""
    rows = {k: [] for k in ("group", "trajectory", "state", "next_state", "valid", "success", "task")}
    initial = {}
    for b, trace in enumerate(traces):
        if trace:
            initial.setdefault(b // num_generations, trace[0][0])
    for b, trace in enumerate(traces):
        steps = trace or [(initial.get(b // num_generations, "init"), ("stop", b % num_generations), True)]
        for s, n, v in steps:
            for key, value in zip(rows, (b // num_generations, b, s, n, v, successes[b], tasks[b]), strict=True):
                rows[key].append(value)
    return rows


def test_batch_advantages_with_memory_match_the_memory_reference():
    """Three calls over two tasks (the second call fails everywhere, the third has a group without steps): the
    trainer's rows through a GraphMemory give the reference's advantages, and only the estimator call reads
    and updates the memory."""
    calls = [
        ([[(0, 1, True), (1, 2, True)], [(0, 0, False), (0, 1, True)], [(5, 6, True)], [(5, 7, True)]],
         [True, False, True, False], [11, 11, 12, 12]),
        ([[(0, 1, True)], [(0, 0, False)], [(5, 7, True)], [(5, 7, True), (7, 8, True)]],
         [False, False, False, False], [11, 11, 12, 12]),
        ([[(1, 2, True)], [], [], []], [False, False, False, False], [11, 11, 12, 12]),
    ]
    memory, ref = graphgpo.GraphMemory(max_edges_per_task=6), MemoryReference(max_edges_per_task=6)
    for number, (traces, successes, tasks) in enumerate(calls):
        records = records_from_traces(traces, successes)
        for record, task in zip(records, tasks, strict=True):
            record.task = task
        result = batch_advantages(records, np.zeros(len(traces)), num_generations=2, method="graphgpo",
                                  options={"omega": OMEGA}, memory=memory)
        rows = _rows_for_reference(traces, successes, tasks, 2)
        want = reference_memory_advantages(ref, "graphgpo", omega=OMEGA, **rows)
        np.testing.assert_allclose(np.concatenate(result.steps), want, rtol=0, atol=1e-9)
        assert memory.stats()["calls"] == number + 1 and memory.stats()["edges"] == ref.num_edges
        if number == 1:  # every rollout failed: the stored edges still give step credit
            assert np.any(np.concatenate(result.steps) != 0)
    with pytest.raises(ValueError, match="rollout 0 has no task key"):
        batch_advantages(records_from_traces([[(0, 1, True)]], [True]), np.zeros(1), num_generations=1,
                         method="graphgpo", options={}, memory=memory)
    assert memory.stats()["calls"] == 3


# -- the trainer ----------------------------------------------------------------------------------------


def _memory_trainer(output_dir, monkeypatch, *, max_steps=2, **config):
    """The scripted LineWorld trainer with graph memory keyed by goal, succeeding in step 1 only; records the
    rows and results of each batch_advantages call."""
    seen = []
    original = trainer_module.batch_advantages

    def recording(episodes, rewards, **kw):
        result = original(episodes, rewards, **kw)
        seen.append({"tasks": [ep.task for ep in episodes], "memory": kw.get("memory") is not None,
                     "steps": np.concatenate(result.steps)})
        return result

    monkeypatch.setattr(trainer_module, "batch_advantages", recording)
    trainer = H.scripted_line_world_trainer(str(output_dir), per_device=8, max_completion_length=200,
                                            **{**MEMORY, "max_steps": max_steps, **config})
    H.fail_after_first_step(trainer)
    trainer.seen = seen
    return trainer


def _expected(records, seen, ref):
    """Per step, the reference's advantages of the recorded traces through ``ref``."""
    out = []
    for record, call in zip(records, seen, strict=True):
        goals = call["tasks"]
        rows = _rows_for_reference(record["environments_traces"], record["environments_success"], goals, 4)
        out.append(reference_memory_advantages(ref, "graphgpo", omega=OMEGA, **rows))
    return out


def test_trainer_memory_gives_credit_to_failed_steps_and_is_saved_in_every_checkpoint(tmp_path, monkeypatch):
    trainer = _memory_trainer(tmp_path / "run", monkeypatch, save_strategy="steps", save_steps=1,
                              max_edges_per_task=50)
    trainer.train()
    records, seen = trainer.recorded, trainer.seen
    assert len(records) == len(seen) == 2 and all(call["memory"] for call in seen)
    goals = {2: task_keys([{"goal": 2}], "goal")[0], 3: task_keys([{"goal": 3}], "goal")[0]}
    assert set(seen[0]["tasks"]) == set(goals.values())
    assert records[0]["environments_success"].count(True) == 4 and not any(records[1]["environments_success"])

    ref = MemoryReference(max_edges_per_task=50)
    for got, want in zip(seen, _expected(records, seen, ref), strict=True):
        np.testing.assert_allclose(got["steps"], want, rtol=0, atol=1e-9)
    stats = trainer._graph_memory.stats()
    assert (stats["tasks"], stats["edges"], stats["calls"]) == (len(ref.tasks), ref.num_edges, 2)
    logged = [h for h in trainer.state.log_history if "graph/memory_edges" in h]
    assert [h["graph/memory_edges"] for h in logged][-1] == ref.num_edges

    for step in (1, 2):
        saved = graphgpo.GraphMemory.load(tmp_path / "run" / f"checkpoint-{step}" / MEMORY_FILE)
        assert saved.stats()["calls"] == step and saved.max_edges_per_task == 50
    assert pickle.dumps(saved) == pickle.dumps(trainer._graph_memory)

    # Without memory, the failed step's credit only separates invalid from valid steps (no distances at all);
    # with it, moving right, bumping the wall and not acting get different values in each group.
    plain = _memory_trainer(tmp_path / "plain", monkeypatch, graph_memory=False, task_column=None)
    plain.train()
    assert not plain.seen[1]["memory"]
    assert len(np.unique(np.round(plain.seen[1]["steps"], 9))) == 2
    assert len(np.unique(np.round(seen[1]["steps"], 9))) > 2


def _edges(memory) -> dict:
    """task -> {(u, v, last seen call, cost)} (insertion order aside: it follows the batch's group order)."""
    return {task: {tuple(e[:-1]) for e in edges} for task, edges in memory._engine._edges().items()}


def test_resume_restores_the_memory_and_continues_as_without_interruption(tmp_path, monkeypatch):
    whole = _memory_trainer(tmp_path / "whole", monkeypatch)
    whole.train()

    first = _memory_trainer(tmp_path / "parts", monkeypatch, max_steps=1, save_strategy="steps", save_steps=1)
    first.train()
    resumed = _memory_trainer(tmp_path / "parts", monkeypatch)
    resumed.train(resume_from_checkpoint=True)
    assert len(resumed.seen) == 1 and resumed._graph_memory.stats()["calls"] == 2
    # The resumed step may order the two groups differently; per task, everything is the same.
    assert sorted(resumed.seen[0]["steps"]) == pytest.approx(sorted(whole.seen[1]["steps"]), abs=1e-12)
    assert _edges(resumed._graph_memory) == _edges(whole._graph_memory)

    # A checkpoint without a memory file: a warning, and an empty memory.
    (tmp_path / "parts" / "checkpoint-1" / MEMORY_FILE).unlink()
    again = _memory_trainer(tmp_path / "parts", monkeypatch)
    with pytest.warns(RuntimeWarning, match="holds no graphgpo_memory.bin"):
        again.train(resume_from_checkpoint=str(tmp_path / "parts" / "checkpoint-1"))
    assert again._graph_memory.stats()["calls"] == 1


def test_resume_refuses_a_memory_with_other_bounds(tmp_path, monkeypatch):
    first = _memory_trainer(tmp_path / "run", monkeypatch, max_steps=1, save_strategy="steps", save_steps=1)
    first.train()
    other = _memory_trainer(tmp_path / "run", monkeypatch, max_edges=100)
    with pytest.raises(ValueError, match="has bounds .*'max_edges': None.*the config .*'max_edges': 100"):
        other.train(resume_from_checkpoint=True)


@pytest.mark.slow
def test_two_processes_hold_the_same_memory_and_equal_one_process(tmp_path):
    """Two steps with graph memory, 1 process vs 2 (torchrun): the second step's per-token advantages are
    equal, and every rank's memory is byte for byte the single process's."""
    import _trl_ddp_script
    from test_trl import _pad_cat, _torchrun

    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    _trl_ddp_script.run(str(one), per_device=8, memory=True)
    proc = _torchrun(two, "--per-device", "4", "--memory")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]

    single = torch.load(one / "rank0.pt")
    ranks = [torch.load(two / f"rank{r}.pt") for r in range(2)]
    assert not any(single["environments_success"])  # the second step: all failed
    assert ranks[0]["memory"] == ranks[1]["memory"] == single["memory"]
    got, want = _pad_cat([r["advantages"] for r in ranks]), single["advantages"]
    width = max(got.shape[1], want.shape[1])
    got = torch.nn.functional.pad(got, (0, width - got.shape[1]))
    want = torch.nn.functional.pad(want, (0, width - want.shape[1]))
    assert torch.equal(got, want)
    assert len(torch.unique(want[want != 0])) > 2  # distances from the memory, not only the invalid penalty
