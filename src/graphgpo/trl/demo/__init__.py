"""``graphgpo demo-llm``: a small chat LLM learns bundled Sokoban through `GraphGPOTrainer`, on a CPU.

1. A Qwen2 chat model of about a million parameters and an in-process BPE tokenizer with the Qwen3
   tool-calling template are built (no Hub, no files).
2. Warm start: supervised fine-tuning on noisy optimal solutions of generated levels, laid out in tokens
   exactly as TRL's tool loop lays out an episode; the checkpoint is saved.
3. RL: for every estimator (grpo, graphgpo, ...) and seed, `GraphGPOTrainer` trains the same checkpoint
   through ``environment_factory`` (TRL's real multi-turn tool loop) with the same budget.
4. Held-out levels are played (sampled, a fixed seed) before and after RL; ``results.json`` holds every number and
   ``learning_curves.png`` the curves.

One concern per module: :mod:`.config` (settings), :mod:`.episodes` (levels, noisy solutions, the token
layout), :mod:`.warmstart` (SFT), :mod:`.play` (greedy evaluation), :mod:`.warm` (the warm-start
checkpoint), :mod:`.rl` (one RL run), :mod:`.runner` (everything), :mod:`.report` (summary, table,
figure), :mod:`.cli` (options). Importing it needs nothing beyond graphgpo; torch, TRL and matplotlib are
imported when a run starts.
"""

from __future__ import annotations

from .cli import add_arguments, config_from_args, main, quick_check
from .config import QUICK, ConfigError, LLMDemoConfig, validate

__all__ = [
    "LLMDemoConfig", "ConfigError", "QUICK", "validate", "add_arguments", "config_from_args", "main",
    "quick_check", "run_llm_demo",
]


def run_llm_demo(cfg: LLMDemoConfig) -> dict:
    """Run the demo (see :func:`graphgpo.trl.demo.runner.run_llm_demo`)."""
    from .runner import run_llm_demo as run

    return run(cfg)
