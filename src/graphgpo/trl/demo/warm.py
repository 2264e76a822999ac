"""Build the warm-start checkpoint: levels, tokenizer, model, supervised fine-tuning, evaluation."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...envs import SokobanEnvironment
from ..chat import causal_lm, chat_tokenizer
from .config import LLMDemoConfig
from .episodes import EpisodeFormat, LevelSpec, episode_pieces, episode_tokens, make_levels, noisy_solution
from .play import PlayResult, play
from .warmstart import supervised_fine_tune

__all__ = ["Levels", "make_level_sets", "WarmStart", "warm_start_model", "build_warm_start", "BOARD_CHARS"]

BOARD_CHARS = "#$@.*+ "  # one token each on board rows (chat_tokenizer's isolate)
# Level seeds: warm start from 0, RL from 1_000_000, evaluation from 2_000_000 (disjoint sets).
_RL_SEED0, _EVAL_SEED0 = 1_000_000, 2_000_000


@dataclass
class Levels:
    sft: list[str]
    rl: list[str]
    eval: list[str]


def make_level_sets(cfg: LLMDemoConfig) -> Levels:
    spec = LevelSpec(cfg.size, 1, cfg.min_distance, cfg.max_distance)
    return Levels(
        sft=make_levels(spec, range(cfg.sft_levels)),
        rl=make_levels(spec, range(_RL_SEED0, _RL_SEED0 + cfg.rl_levels)),
        eval=make_levels(spec, range(_EVAL_SEED0, _EVAL_SEED0 + cfg.eval_levels)),
    )


@dataclass
class WarmStart:
    checkpoint: str
    vocab_size: int
    parameters: int
    episode_tokens_mean: float
    sft_losses: list[float]
    before: list[PlayResult]
    seconds: dict[str, float] = field(default_factory=dict)


def warm_start_model(
    cfg: LLMDemoConfig, boards: list[str], on_sft_step: Callable[[int, int, float], None] | None = None
):
    """``(model, tokenizer, losses, mean episode tokens)``: a tokenizer and a model trained on noisy optimal
    solutions of ``boards`` in the layout of TRL's tool loop."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    rng = random.Random(cfg.first_seed)
    solutions = [noisy_solution(b, rng, cfg.noise, cfg.max_steps) for b in boards]
    env = SokobanEnvironment(**cfg.env_kwargs())
    # The tokenizer learns its merges from a few rendered episodes (the template boilerplate repeats
    # verbatim); board cells stay one token each.
    bootstrap = EpisodeFormat(chat_tokenizer(["a"], vocab_size=300))
    corpus = [
        "".join(text for text, _ in episode_pieces(bootstrap, b, m, env))
        for b, m in zip(boards[:32], solutions[:32], strict=False)
    ]
    tokenizer = chat_tokenizer(corpus, vocab_size=cfg.vocab, split_words=False, isolate=BOARD_CHARS)
    fmt = EpisodeFormat(tokenizer)
    episodes = [episode_tokens(fmt, b, m, env) for b, m in zip(boards, solutions, strict=True)]
    longest = max(len(e.ids) for e in episodes)
    model = causal_lm(
        tokenizer, hidden_size=cfg.hidden, layers=cfg.layers, heads=cfg.heads, kv_heads=cfg.kv_heads,
        intermediate_size=3 * cfg.hidden, max_positions=max(1024, 2 * longest), seed=cfg.first_seed,
    )
    losses = supervised_fine_tune(
        model, episodes, epochs=cfg.sft_epochs, batch_size=cfg.sft_batch, learning_rate=cfg.sft_lr,
        pad_id=tokenizer.pad_token_id, seed=cfg.first_seed, on_step=on_sft_step,
    )
    return model, tokenizer, losses, sum(len(e.ids) for e in episodes) / len(episodes)


def build_warm_start(
    cfg: LLMDemoConfig, levels: Levels, out: Path, on_sft_step: Callable[[int, int, float], None] | None = None
) -> WarmStart:
    """:func:`warm_start_model` on ``levels.sft``, saved under ``out/warm_start`` and played on
    ``levels.eval`` (``eval_samples`` episodes each, at ``eval_temperature``)."""
    import torch

    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    model, tokenizer, losses, mean_tokens = warm_start_model(cfg, levels.sft, on_sft_step)
    seconds = {"warm_start": time.perf_counter() - t0}
    checkpoint = out / "warm_start"
    model.save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    t0 = time.perf_counter()
    before = play(
        model, EpisodeFormat(tokenizer), levels.eval * cfg.eval_samples,
        env_factory=lambda: SokobanEnvironment(**cfg.env_kwargs()), max_turns=cfg.max_steps + 1,
        max_new_tokens=cfg.max_new_tokens, temperature=cfg.eval_temperature, seed=cfg.first_seed,
    )
    seconds["eval"] = time.perf_counter() - t0
    return WarmStart(
        checkpoint=str(checkpoint),
        vocab_size=len(tokenizer),
        parameters=sum(p.numel() for p in model.parameters()),
        episode_tokens_mean=mean_tokens,
        sft_losses=losses,
        before=before,
        seconds=seconds,
    )
