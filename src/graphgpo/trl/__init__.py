"""TRL integration: `GraphGPOConfig` and `GraphGPOTrainer` (a thin `trl.GRPOTrainer` subclass).

Needs the `trl` extra (`pip install graphgpo[trl]`, TRL 1.16.x). The classes are imported on first
access, so `graphgpo.trl.testing` and the token helpers load without pulling in TRL.
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
