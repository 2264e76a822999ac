"""verl v1 trainers that carry per-turn states from the agent loop to graphgpo's registered estimators.

In stock verl 0.9 a registered advantage estimator sees token rewards, the response mask and ``uid``
only. Its v1 agent loop, though, stores every turn it returns (``list[AgentLoopOutput]``) as one row under
the key ``{uid}_{session_id}_{turn index}``, together with that output's ``extra_fields`` dict. These
trainers fetch ``extra_fields`` for the batch, build the step rows (group = uid, trajectory =
``{uid}_{session_id}``, step = turn index, plus ``anchor_obs``, ``next_obs``, ``is_action_valid``,
``success``, ``rewards`` ... from ``extra_fields``, under the column names of ``algorithm.graphgpo.fields``)
and make them visible to the estimator (:func:`graphgpo.verl.registry.turn_rows`) while verl's own
``_compute_advantage`` runs unchanged (KL in reward, rollout correction, writing results back).

Trainer modes (``trainer.v1.trainer_mode``): ``graphgpo_sync``, ``graphgpo_colocate_async`` and
``graphgpo_separate_async`` behave exactly as ``sync``, ``colocate_async`` and ``separate_async`` (verl
compares the mode name with "sync" in several places, so the instance takes the stock name back).

This module imports verl's v1 trainer (it needs the ``verl`` extra, with transferqueue), so nothing
imports it by default: the process that runs the trainer must import it before verl looks the mode up,
e.g. with ``VERL_USE_EXTERNAL_MODULES=graphgpo.verl.trainer`` (docs/verl.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import transfer_queue as tq
from verl.trainer.ppo.v1 import (
    PPOTrainerColocateAsync,
    PPOTrainerSeparateAsync,
    PPOTrainerSync,
    get_trainer_cls,
    register_trainer,
)

from ._fields import Fields
from .registry import MARK, config_options, turn_rows

#: the v1 field that holds each turn's ``AgentLoopOutput.extra_fields``
EXTRA_FIELDS = "extra_fields"


def turn_columns(keys: Sequence[str], extras: Sequence[Mapping[str, Any]], fields: Fields) -> dict[str, np.ndarray]:
    """Step rows for the batch rows ``keys`` (``{uid}_{session_id}_{turn}``) with these ``extra_fields``:
    group, trajectory and step from the keys, every other row field from ``extra_fields`` (a field some
    turns have and others lack is an error naming the first turn without it)."""
    if len(keys) != len(extras):
        raise ValueError(f"{len(keys)} keys but {len(extras)} extra_fields")
    parts = []
    for key in keys:
        pieces = str(key).rsplit("_", 2)
        if len(pieces) != 3 or not pieces[2].isdigit():
            raise ValueError(f"batch key {key!r} is not verl v1's '{{uid}}_{{session_id}}_{{turn}}'")
        parts.append(pieces)
    columns: dict[str, np.ndarray] = {
        fields.group: np.array([p[0] for p in parts], dtype=object),
        fields.trajectory: np.array([f"{p[0]}_{p[1]}" for p in parts], dtype=object),
        fields.step or "step": np.array([int(p[2]) for p in parts], dtype=np.int64),
    }
    for role in ("state", "next_state", "valid", "success", "episode_reward", "reward", "cost", "action",
                 "task"):
        name = getattr(fields, role)
        if name is None or name in columns:
            continue
        having = [name in extra for extra in extras]
        if not any(having):
            continue
        if not all(having):
            i = having.index(False)
            raise ValueError(f"extra_fields[{name!r}] ({role}) is set on some turns but not on turn {keys[i]!r}")
        columns[name] = np.array([extra[name] for extra in extras] + [None], dtype=object)[:-1]
    return columns


def _as_dicts(values: Any) -> list[Mapping[str, Any]]:
    """The ``extra_fields`` column of a TensorDict (a NonTensorStack) as a list of dicts."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    out = list(values)
    for i, v in enumerate(out):
        if not isinstance(v, Mapping):
            raise TypeError(f"extra_fields of row {i} is {type(v).__name__}, not a dict")
    return out


class GraphGPOTrainerMixin:
    """Mixed into a verl v1 trainer: fetches per-turn step fields for graphgpo's estimators."""

    #: the stock mode this trainer behaves as
    base_mode = "sync"

    def _build_replay_buffer(self) -> Any:
        # PPOTrainer.__init__ sets trainer_mode from the config (our registered name) just before this;
        # verl compares it with "sync", so behave exactly as the stock mode from here on.
        self.trainer_mode = self.base_mode
        self.parameter_sync_step = self.config.trainer.v1.get(self.base_mode, {}).get("parameter_sync_step", 1)
        return super()._build_replay_buffer()

    def _uses_graphgpo(self) -> bool:
        from verl.trainer.ppo import core_algos

        estimator = core_algos.ADV_ESTIMATOR_REGISTRY.get(str(self.config.algorithm.adv_estimator))
        return getattr(estimator, MARK, None) is not None

    def _compute_advantage(self, batch: Any, metrics: dict) -> Any:
        if not self._uses_graphgpo():
            return super()._compute_advantage(batch, metrics)
        fields = Fields.of(config_options(self.config.algorithm).get("fields"))
        data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=[EXTRA_FIELDS])
        rows = turn_columns(list(batch.keys), _as_dicts(data[EXTRA_FIELDS]), fields)
        with turn_rows(rows):
            return super()._compute_advantage(batch, metrics)


def _register(name: str, base: type) -> type:
    """``GraphGPO<Base>``, registered as ``name`` (an import after a reload keeps the first class)."""
    try:
        existing = get_trainer_cls(name)
    except ValueError:
        existing = None
    if existing is not None and getattr(existing, "base_mode", None) is not None:
        return existing
    cls = type(f"GraphGPO{base.__name__}", (GraphGPOTrainerMixin, base),
               {"base_mode": name.removeprefix("graphgpo_"), "__module__": __name__,
                "__doc__": f"verl's {base.__name__} with graphgpo's per-turn step fields (mode {name!r})."})
    return register_trainer(name)(cls)


GraphGPOTrainerSync = _register("graphgpo_sync", PPOTrainerSync)
GraphGPOTrainerColocateAsync = _register("graphgpo_colocate_async", PPOTrainerColocateAsync)
GraphGPOTrainerSeparateAsync = _register("graphgpo_separate_async", PPOTrainerSeparateAsync)
