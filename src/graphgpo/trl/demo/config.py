"""What defines a run of the LLM demo: :class:`LLMDemoConfig`, its quick variant and its checks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["LLMDemoConfig", "ConfigError", "QUICK", "validate", "default_estimators"]


class ConfigError(ValueError):
    """A setting out of range; the message names the option."""


def default_estimators() -> tuple[str, ...]:
    """grpo, graphgpo and progpo (when the engine has it); others run with ``--estimators``."""
    from ... import METHODS

    return tuple(m for m in ("grpo", "graphgpo", "progpo") if m in METHODS)


@dataclass(frozen=True)
class LLMDemoConfig:
    """Everything that defines a run. All estimators share the checkpoint, the seeds and the budget.

    Levels: generated Sokoban rooms of ``size`` x ``size`` cells with one box, optimal solutions of
    ``min_distance`` to ``max_distance`` moves, ``max_steps`` moves per episode; the warm start, RL and
    the evaluation use disjoint level seeds. Model: a Qwen2 of ``hidden`` x ``layers`` over an in-process
    BPE of ``vocab`` tokens. Warm start: ``sft_levels`` noisy optimal solutions (each move replaced by a
    random solvable one with probability ``noise``), ``sft_epochs`` epochs. RL: ``rl_steps`` steps of
    ``levels_per_step`` levels x ``num_generations`` rollouts, per estimator and seed.
    """

    out: str = "graphgpo-llm-demo"
    estimators: tuple[str, ...] = field(default_factory=default_estimators)
    seeds: int = 3
    first_seed: int = 0
    workers: int = 2
    threads: int = 1
    quick: bool = False
    progress: bool = True
    # levels
    size: int = 4
    min_distance: int = 1
    max_distance: int = 4
    max_steps: int = 8
    eval_levels: int = 64
    eval_samples: int = 4
    eval_temperature: float = 0.7
    rl_levels: int = 512
    # model and tokenizer
    hidden: int = 96
    layers: int = 3
    heads: int = 4
    kv_heads: int = 2
    vocab: int = 800
    # warm start
    sft_levels: int = 1200
    noise: float = 0.15
    sft_epochs: int = 2
    sft_batch: int = 16
    sft_lr: float = 3e-3
    # RL
    rl_steps: int = 20
    num_generations: int = 8
    levels_per_step: int = 2
    rl_lr: float = 1e-4
    omega: float = 0.8
    temperature: float = 0.7
    max_new_tokens: int = 24

    def with_quick(self) -> LLMDemoConfig:
        """The CI smoke run: the same pipeline on a budget of seconds."""
        return replace(self, **QUICK, quick=True)

    def env_kwargs(self) -> dict[str, Any]:
        """Arguments of the `SokobanEnvironment` every episode is played in."""
        return {"size": self.size, "num_boxes": 1, "max_steps": self.max_steps, "border": False}


#: Overrides of the quick run (``--quick``), sized for CI.
QUICK: dict[str, Any] = {
    "seeds": 1,
    "eval_levels": 8,
    "eval_samples": 1,
    "rl_levels": 16,
    "sft_levels": 160,
    "sft_epochs": 6,
    "sft_lr": 5e-3,
    "rl_steps": 2,
    "num_generations": 4,
    "levels_per_step": 2,
    "hidden": 64,
    "layers": 2,
}


def validate(cfg: LLMDemoConfig) -> None:
    """Raise :class:`ConfigError` naming the first setting out of range."""
    from ... import METHODS as ESTIMATORS

    def check(ok: bool, name: str, what: str) -> None:
        if not ok:
            raise ConfigError(f"--{name.replace('_', '-')} must be {what}, got {getattr(cfg, name)!r}")

    check(len(cfg.estimators) > 0 and set(cfg.estimators) <= set(ESTIMATORS), "estimators",
          f"a non-empty subset of {','.join(ESTIMATORS)}")
    check(len(set(cfg.estimators)) == len(cfg.estimators), "estimators", "without repeats")
    check(cfg.eval_temperature >= 0, "eval_temperature", "0 (greedy) or positive")
    for name in ("seeds", "workers", "threads", "eval_levels", "eval_samples", "rl_levels", "sft_levels", "sft_epochs",
                 "sft_batch", "rl_steps", "levels_per_step", "hidden", "layers", "heads", "kv_heads",
                 "max_new_tokens"):
        value = getattr(cfg, name)
        check(isinstance(value, int) and not isinstance(value, bool) and value >= 1, name, "an integer >= 1")
    check(isinstance(cfg.first_seed, int) and cfg.first_seed >= 0, "first_seed", "an integer >= 0")
    check(cfg.num_generations >= 2, "num_generations", "at least 2 (GRPO needs a group)")
    check(2 <= cfg.size <= 8, "size", "between 2 and 8")
    check(1 <= cfg.min_distance <= cfg.max_distance, "min_distance", "between 1 and max_distance")
    check(cfg.max_steps >= cfg.max_distance, "max_steps", "at least max_distance")
    check(0.0 <= cfg.noise < 1.0, "noise", "in [0, 1)")
    check(cfg.sft_lr > 0 and cfg.rl_lr > 0, "rl_lr", "positive (and so must --sft-lr)")
    check(0.0 < cfg.omega < 1.0, "omega", "in (0, 1)")
    check(cfg.temperature > 0, "temperature", "positive")
    check(cfg.hidden % cfg.heads == 0 and cfg.heads % cfg.kv_heads == 0, "hidden",
          "a multiple of --heads, itself a multiple of --kv-heads")
    check(cfg.vocab >= 400, "vocab", "at least 400")
