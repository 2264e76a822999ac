"""The LLM demo (graphgpo.trl.demo): its token layout equals TRL's tool loop, its settings are checked,
and ``--quick`` runs the whole pipeline (warm start, RL with every estimator, evaluation, report)."""

from __future__ import annotations

import json
import random

import pytest

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

import trl_helpers as H  # noqa: E402  (offline environment variables)

from graphgpo.envs import SokobanEnvironment  # noqa: E402
from graphgpo.trl.demo.config import ConfigError, LLMDemoConfig, validate  # noqa: E402
from graphgpo.trl.demo.episodes import (  # noqa: E402
    FINAL_TEXT,
    EpisodeFormat,
    LevelSpec,
    episode_pieces,
    episode_tokens,
    make_levels,
    noisy_solution,
)

BOARD = "######\n#    #\n#. @ #\n#  $ #\n#    #\n######"


def _demo_tokenizer(boards, moves):
    from graphgpo.trl.chat import chat_tokenizer
    from graphgpo.trl.demo.warm import BOARD_CHARS

    env = SokobanEnvironment(size=4, max_steps=10, border=False)
    bootstrap = EpisodeFormat(chat_tokenizer(["a"], vocab_size=300))
    corpus = ["".join(t for t, _ in episode_pieces(bootstrap, b, m, env)) for b, m in zip(boards, moves)]
    return chat_tokenizer(corpus, vocab_size=600, split_words=False, isolate=BOARD_CHARS)


def test_noisy_solutions_solve_their_level_and_levels_are_reproducible():
    from graphgpo.envs.sokoban import SokobanLevel

    spec = LevelSpec(size=4, min_distance=2, max_distance=7)
    boards = make_levels(spec, range(20))
    assert boards == make_levels(spec, range(20)) and len(set(boards)) == 20
    rng = random.Random(0)
    longer = 0
    for board in boards:
        level = SokobanLevel.from_text(board)
        optimal = int(level.distance(level.start))
        assert 2 <= optimal <= 7
        assert len(noisy_solution(board, rng, noise=0.0, max_steps=12)) == optimal
        moves = noisy_solution(board, rng, noise=0.3, max_steps=12)
        env = SokobanEnvironment(size=4, max_steps=12)
        env.reset(level=board)
        for m in moves:
            env.move(m)
        assert env.graphgpo_success and optimal <= len(moves) <= 12
        longer += len(moves) > optimal
    assert longer >= 5  # the noise makes detours


def test_episode_layout_equals_trls_tool_loop(tmp_path):
    """A scripted rollout through GraphGPOTrainer's real tool loop gives exactly episode_tokens' ids."""
    from datasets import Dataset

    from graphgpo.trl import GraphGPOConfig
    from graphgpo.trl.chat import causal_lm

    moves = ["right", "right", "left", "up", "down"]  # the second one walks into the wall
    tok = _demo_tokenizer([BOARD], [moves])
    fmt = EpisodeFormat(tok)
    expected = episode_tokens(fmt, BOARD, moves, SokobanEnvironment(size=4, max_steps=10, border=False))

    class Scripted:
        def __call__(self, input_ids=None, attention_mask=None, **kwargs):
            rows = []
            for row, mask in zip(input_ids, attention_mask, strict=True):
                turn = tok.decode(row[mask.bool()].tolist()).count("<|im_start|>assistant") - 1
                rows.append(fmt.call_ids(moves[turn]) if turn < len(moves) else fmt.turn_ids(FINAL_TEXT))
            width = max(len(r) for r in rows)
            new = torch.full((len(rows), width), tok.pad_token_id, dtype=input_ids.dtype)
            for i, r in enumerate(rows):
                new[i, : len(r)] = torch.tensor(r)
            return torch.cat([input_ids, new], dim=1)

    args = GraphGPOConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=1000,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        activation_checkpointing=False,
        advantage_estimator="graphgpo",
    )
    trainer = H.recording_trainer_class()(
        causal_lm(tok, hidden_size=16, layers=1),
        args=args,
        train_dataset=Dataset.from_dict({"level": [BOARD]}),
        processing_class=tok,
        environment_factory=lambda: SokobanEnvironment(size=4, max_steps=10, border=False),
    )
    trainer.model.generate = Scripted()
    trainer.train()
    record = trainer.recorded[0]
    for b in range(2):
        prompt = record["prompt_ids"][b][record["prompt_mask"][b].bool()].tolist()
        completion = record["completion_ids"][b][record["completion_mask"][b].bool()].tolist()
        assert prompt + completion == expected.ids
        assert len(prompt) == expected.prompt_len
        tool_mask = record["tool_mask"][b][record["completion_mask"][b].bool()].tolist()
        assert tool_mask == expected.action_mask[expected.prompt_len :]
    assert [valid for _, _, valid in record["environments_traces"][0]] == [True, False, True, True, True]


def test_settings_are_checked_with_one_line_errors():
    validate(LLMDemoConfig())
    validate(LLMDemoConfig().with_quick())
    for bad, name in [
        ({"estimators": ()}, "--estimators"),
        ({"estimators": ("ppo",)}, "--estimators"),
        ({"seeds": 0}, "--seeds"),
        ({"num_generations": 1}, "--num-generations"),
        ({"noise": 1.0}, "--noise"),
        ({"omega": 1.0}, "--omega"),
        ({"max_steps": 3}, "--max-steps"),
    ]:
        from dataclasses import replace

        with pytest.raises(ConfigError, match=name):
            validate(replace(LLMDemoConfig(), **bad))


def test_report_summarizes_before_and_after_per_estimator_and_seed(tmp_path):
    from graphgpo.trl.demo.report import format_table, summarize, write_figures

    def run(estimator, seed, solved):
        curve = [
            {"step": k + 1, "graph/success_rate": 0.1 * k, "tools/call_frequency": 3.0} for k in range(6)
        ]
        return {
            "estimator": estimator,
            "seed": seed,
            "eval_success": [True] * solved + [False] * (8 - solved),
            "curve": curve,
            "turn_stats": {"episodes_with_distinct_turns": 1},
        }

    results = {
        "warm_start": {
            "eval": [{"success": s} for s in [True, True, False, False, False, False, False, False]],
            "sft_losses": [1.0, 0.5, 0.2],
        },
        "runs": [run("grpo", 0, 2), run("grpo", 1, 3), run("graphgpo", 0, 5), run("graphgpo", 1, 4)],
    }
    summary = summarize(results)
    assert summary["before"] == 0.25
    graph = summary["estimators"]["graphgpo"]
    assert graph["after"] == [5 / 8, 4 / 8] and graph["after_mean"] == pytest.approx(0.5625)
    assert graph["change_mean"] == pytest.approx(0.3125) and graph["improved_seeds"] == 2
    assert summary["estimators"]["grpo"]["improved_seeds"] == 1
    results["summary"] = summary
    table = format_table(results).splitlines()
    assert table[2].startswith("| graphgpo | 0.250 | 5/8, 4/8 | 0.562")  # best first
    assert table[3].startswith("| grpo | 0.250 | 2/8, 3/8 | 0.312")
    (path,) = write_figures(tmp_path, results)
    assert path.endswith("learning_curves.png") and (tmp_path / "learning_curves.png").stat().st_size > 10_000


@pytest.mark.slow
def test_quick_run_trains_every_estimator_and_reports(tmp_path, capsys):
    import argparse

    from graphgpo.trl.demo import add_arguments, main, quick_check

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--quick", "--workers", "1", "--no-progress", "--out", str(tmp_path)])
    assert main(args) == 0, capsys.readouterr()
    results = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "learning_curves.png").stat().st_size > 10_000
    assert {r["estimator"] for r in results["runs"]} == set(LLMDemoConfig().estimators) >= {"grpo", "graphgpo"}
    assert quick_check(results) == []
    assert "quick check passed" in capsys.readouterr().out
