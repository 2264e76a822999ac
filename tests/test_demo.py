"""``graphgpo demo`` on a tiny budget: it runs quickly, writes its figures and JSON, and reports sane numbers."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

import graphgpo  # noqa: E402
from graphgpo import cli, demo  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _engine():
    fn = getattr(graphgpo, "advantages", None)
    if fn is None:
        pytest.skip("graphgpo.advantages (native engine) is not available")
    return fn


def _check_results(results: dict, estimators=demo.ESTIMATORS) -> None:
    assert list(results["summary"]) == list(estimators)
    for est in estimators:
        s = results["summary"][est]
        for metric in ("final_success", "auc", "credit_accuracy"):
            assert s[metric]["n"] == results["config"]["seeds"]
            assert 0.0 <= s[metric]["mean"] <= 1.0
        for run in results["runs"][est]:
            assert all(0.0 <= x <= 1.0 for x in run["success"])
            assert 0.0 <= run["credit_accuracy"] <= 1.0
            assert run["auc"] == pytest.approx(float(np.mean(run["success"])))
            assert run["episodes"][-1] == results["task"]["episodes_per_run"]


def test_quick_demo_writes_figures_and_json(tmp_path):
    cfg = demo.DemoConfig(quick=True, out=str(tmp_path / "out"), progress=False)
    t0 = time.perf_counter()
    results = demo.run_demo(cfg, advantages=_engine())
    assert time.perf_counter() - t0 < 60
    _check_results(results)
    for key in ("curves", "graph"):
        path = tmp_path / "out" / results["files"][key].rsplit("/", 1)[-1]
        assert path.read_bytes()[:8] == PNG_MAGIC
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["summary"].keys() == results["summary"].keys()
    table = demo.format_table(results)
    for est in demo.ESTIMATORS:
        assert est in table
    assert "credit accuracy" in table and "AUC" in table


def test_cli_demo_quick(tmp_path, capsys):
    _engine()
    out = tmp_path / "cli"
    assert cli.main(["demo", "--quick", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for est in demo.ESTIMATORS:
        assert f"\n{est} " in printed
    assert (out / "learning_curves.png").exists() and (out / "group_graph.png").exists()
    results = json.loads((out / "results.json").read_text())
    _check_results(results)


def test_demo_matches_reference_estimators(tmp_path):
    """Engine and plain-Python reference give the same training run (same advantages, same updates)."""
    from graphgpo.testing import reference

    engine = _engine()

    def slow(method, **kw):
        return np.asarray(reference.reference_advantages(
            method, **{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in kw.items()}))

    runs = []
    for fn in (engine, slow):
        cfg = demo.DemoConfig(quick=True, seeds=1, estimators=("graphgpo",), out=str(tmp_path / "x"),
                              progress=False)
        runs.append(demo.run_demo(cfg, advantages=fn)["runs"]["graphgpo"][0])
    assert runs[0]["success"] == runs[1]["success"]
    assert runs[0]["credit_accuracy"] == pytest.approx(runs[1]["credit_accuracy"], abs=1e-12)


def test_demo_is_reproducible(tmp_path):
    engine = _engine()
    cfg = dict(quick=True, seeds=1, estimators=("gigpo",), out=str(tmp_path), progress=False)
    a = demo.run_demo(demo.DemoConfig(**cfg), advantages=engine)["runs"]["gigpo"][0]
    b = demo.run_demo(demo.DemoConfig(**cfg), advantages=engine)["runs"]["gigpo"][0]
    assert a["success"] == b["success"] and a["final_success"] == b["final_success"]


def test_keydoor_demo_runs(tmp_path):
    cfg = demo.DemoConfig(env="keydoor", quick=True, seeds=1, out=str(tmp_path), progress=False)
    _check_results(demo.run_demo(cfg, advantages=_engine()))


def test_credit_agreement_scores_signs_against_true_progress():
    task = SimpleNamespace(dist=np.array([3.0, 2.0, np.inf, 0.0]))
    state = np.array([0, 0, 1, 1, 2, 0])
    nxt = np.array([1, 1, 3, 2, 2, 0])  # progress, progress, progress (to goal), deadlock, inf->inf, stay
    adv = np.array([0.5, -0.5, 1.0, -2.0, -0.1, 0.0])
    assert demo.credit_agreement(task, state, nxt, adv).tolist() == [1, 0, 1, 1, 1, 0.5]


def test_build_task_encodes_every_state_exactly_once():
    task = demo.build_task("sokoban", num_levels=3, level_seed=1)
    assert task.tokens.shape[0] == task.next.shape[0] == len(task.keys)
    # Different state keys give different encodings (the encoding loses nothing).
    assert len({row.tobytes() for row in task.tokens}) == len(set(task.keys)) == len(task.keys)
    assert (task.dist[task.starts] >= 1).all() and np.isfinite(task.dist[task.starts]).all()
    assert task.goal[task.next[task.goal.nonzero()[0]]].all()  # goal states are absorbing


def test_cli_info_and_help(capsys):
    assert cli.main(["info", "--json"]) in (0, 1)
    info = json.loads(capsys.readouterr().out)
    assert "python" in info and ("version" in info or "error" in info)
    assert cli.main([]) == 0
    assert "demo" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    assert "--episodes" in capsys.readouterr().out
