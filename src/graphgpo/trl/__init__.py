"""TRL integration: `GraphGPOConfig` and `GraphGPOTrainer` (a thin `trl.GRPOTrainer` subclass).

Needs the `trl` extra (`pip install graphgpo[trl]`, TRL 1.16.x). The classes are imported on first
access, so `graphgpo.trl.testing` and the token helpers load without pulling in TRL.

    from graphgpo.envs import SokobanEnvironment
    from graphgpo.trl import GraphGPOConfig, GraphGPOTrainer

    args = GraphGPOConfig(output_dir="out", advantage_estimator="graphgpo", omega=0.8, num_generations=8)
    trainer = GraphGPOTrainer(model, args=args, train_dataset=levels, processing_class=tokenizer,
                              environment_factory=SokobanEnvironment)
    trainer.train()

Step traces come from the environments' ``graphgpo_trace`` / ``graphgpo_success`` attributes, or from
``rollout_func`` output keys of the same names (see `GraphGPOTrainer` for the exact rules).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["GraphGPOConfig", "GraphGPOTrainer"]

if TYPE_CHECKING:
    from .config import GraphGPOConfig
    from .trainer import GraphGPOTrainer


def __getattr__(name: str) -> Any:
    if name == "GraphGPOConfig":
        from .config import GraphGPOConfig

        return GraphGPOConfig
    if name == "GraphGPOTrainer":
        from .trainer import GraphGPOTrainer

        return GraphGPOTrainer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
