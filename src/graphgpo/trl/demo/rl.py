"""One RL run of the LLM demo: `GraphGPOTrainer` through ``environment_factory`` (TRL's real tool loop).

The run starts from the warm-start checkpoint, trains with one advantage estimator and one seed, records
the learning curve (TRL's logged metrics per step) and whether the per-turn advantages it laid out differ
between the turns of an episode, then plays the held-out levels as the warm start was played.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunSpec", "RunOutput", "train_one"]

# Logged metrics kept in the learning curve (TRL's and the trainer's names).
CURVE_KEYS = (
    "reward",
    "graph/success_rate",
    "graph/steps_per_episode",
    "graph/invalid_step_frac",
    "graph/episodes_without_steps",
    "graph/shared_state_row_share",
    "graph/calls_without_step_frac",
    "tools/call_frequency",
    "tools/failure_frequency",
    "completions/mean_length",
    "advantages/token_std",
    "entropy",
    "loss",
    "grad_norm",
)


@dataclass
class RunSpec:
    """What one RL run needs (picklable: runs execute in worker processes)."""

    estimator: str
    seed: int
    checkpoint: str
    out_dir: str
    train_levels: list[str]
    eval_levels: list[str]
    env: dict[str, Any]
    steps: int
    num_generations: int
    levels_per_step: int
    learning_rate: float
    max_completion_length: int
    max_new_tokens: int
    omega: float
    temperature: float = 1.0
    threads: int = 1
    eval_temperature: float = 0.0
    eval_seed: int = 0


@dataclass
class RunOutput:
    estimator: str
    seed: int
    curve: list[dict[str, float]]
    turn_stats: dict[str, float]
    eval_success: list[bool]
    eval_steps: list[int]
    eval_calls: list[int]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def _trainer_class():
    """GraphGPOTrainer that counts, per batch, episodes whose turns carry different advantages."""
    import numpy as np

    from ..trainer import GraphGPOTrainer

    class RecordingTrainer(GraphGPOTrainer):
        turn_stats = {"multi_turn_episodes": 0, "episodes_with_distinct_turns": 0, "episodes": 0}

        def _generate_and_score_completions(self, inputs):
            out = super()._generate_and_score_completions(inputs)
            from .._tokens import batch_action_segments

            adv = out["advantages"].detach().cpu().numpy()
            spans = batch_action_segments(
                out["completion_mask"].detach().cpu().numpy(), out["tool_mask"].detach().cpu().numpy()
            )
            stats = dict(self.turn_stats)
            for b, row in enumerate(spans):
                stats["episodes"] += 1
                if len(row) > 1:
                    stats["multi_turn_episodes"] += 1
                    values = np.array([adv[b, s] for s, _ in row])
                    stats["episodes_with_distinct_turns"] += int(np.ptp(values) > 1e-6)
            self.turn_stats = stats
            return out

    return RecordingTrainer


def train_one(spec: RunSpec, on_step: Callable[[], None] | None = None) -> RunOutput:
    """Run one estimator and seed; ``on_step()`` is called after every optimizer step."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast, TrainerCallback
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging

    from ...envs import SokobanEnvironment
    from ..config import GraphGPOConfig
    from .episodes import EpisodeFormat
    from .play import play

    torch.set_num_threads(spec.threads)
    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(spec.checkpoint)
    model = AutoModelForCausalLM.from_pretrained(spec.checkpoint)
    env_kwargs = dict(spec.env)

    def make_env():
        return SokobanEnvironment(**env_kwargs)

    curve: list[dict[str, float]] = []

    class Curve(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "reward" in logs:
                curve.append({"step": state.global_step, **{k: float(logs[k]) for k in CURVE_KEYS if k in logs}})

        def on_step_end(self, args, state, control, **kwargs):
            if on_step is not None:
                on_step()

    config = GraphGPOConfig(
        output_dir=spec.out_dir,
        advantage_estimator=spec.estimator,
        omega=spec.omega,
        num_generations=spec.num_generations,
        per_device_train_batch_size=spec.num_generations * spec.levels_per_step,
        max_steps=spec.steps,
        learning_rate=spec.learning_rate,
        lr_scheduler_type="constant",
        max_completion_length=spec.max_completion_length,
        max_tool_calling_iterations=env_kwargs["max_steps"] + 1,
        generation_kwargs={"max_new_tokens": spec.max_new_tokens},
        temperature=spec.temperature,
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        optim="adamw_torch",
        beta=0.0,
        seed=spec.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    trainer = _trainer_class()(
        model,
        args=config,
        train_dataset=Dataset.from_dict({"level": list(spec.train_levels)}),
        processing_class=tokenizer,
        environment_factory=make_env,
        callbacks=[Curve()],
    )
    trainer.remove_callback(PrinterCallback)  # the curve is kept; the demo prints its own progress
    t0 = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    fmt = EpisodeFormat(tokenizer, tools=[SokobanEnvironment.move])
    results = play(
        trainer.model, fmt, spec.eval_levels, env_factory=make_env, max_turns=env_kwargs["max_steps"] + 1,
        max_new_tokens=spec.max_new_tokens, temperature=spec.eval_temperature, seed=spec.eval_seed,
    )
    return RunOutput(
        estimator=spec.estimator,
        seed=spec.seed,
        curve=curve,
        turn_stats=dict(trainer.turn_stats),
        eval_success=[r.success for r in results],
        eval_steps=[r.steps for r in results],
        eval_calls=[r.calls for r in results],
        seconds=time.perf_counter() - started,
        timings={"train": train_seconds, "eval": time.perf_counter() - t0},
    )
