"""graphgpo's estimators as entries of verl's advantage registry (``algorithm.adv_estimator=<name>``).

verl calls a registered estimator as ``fn(token_level_rewards=..., response_mask=..., config=algorithm,
index=uid)``: stock verl (0.9) hands it no states, trajectory ids or step rewards (only GDPO gets the
batch). So each estimator takes its per-step rows, in order of preference, from

1. ``non_tensor_batch=`` / ``batch=`` keyword arguments (a recipe that calls the function itself);
2. the turn rows that :mod:`graphgpo.verl.trainer` fetched from the agent loop's ``extra_fields`` for the
   batch being computed (see :func:`turn_rows`);
3. nothing else: with one row per sample and ``uid`` only, ``graphgpo_grpo`` is GRPO over the row rewards
   (equal to verl's ``grpo``), and the graph estimators raise, since they need states.

Options come from ``algorithm.graphgpo`` (SPEC names; ``fields`` renames columns, ``num_threads``).
Names: each method of :data:`graphgpo.METHODS` under its own name, except where verl already has an
estimator of that name (``grpo``), which gets a ``graphgpo_`` prefix.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .._estimators import METHODS
from ._fields import Fields
from ._rows import Columns, needs_states, row_advantages
from .advantage import token_advantages

logger = logging.getLogger("graphgpo.verl")

#: attribute that marks a registry entry as graphgpo's (its value: the method)
MARK = "graphgpo_method"
#: the ``algorithm`` config section with the estimators' options
CONFIG_SECTION = "graphgpo"

NEEDS_STATES = (
    "{name}: stock verl passes a registered advantage estimator only token_level_rewards, response_mask "
    "and uid, not the per-step states this estimator needs. Use the graphgpo trainer "
    "(trainer.v1.trainer_mode=graphgpo_sync; see docs/verl.md), or call "
    "graphgpo.verl.compute_advantage(batch, ...) from your recipe."
)

_TURNS: contextvars.ContextVar[dict[str, np.ndarray] | None] = contextvars.ContextVar("graphgpo_verl_turns",
                                                                                      default=None)


@contextlib.contextmanager
def turn_rows(non_tensors: Mapping[str, np.ndarray]) -> Iterator[None]:
    """Within the block, registered estimators read per-row step fields from ``non_tensors`` (columns in
    the batch's row order, named as in ``algorithm.graphgpo.fields``) when verl passes them none."""
    token = _TURNS.set(dict(non_tensors))
    try:
        yield
    finally:
        _TURNS.reset(token)


def registry_name(method: str, taken: set[str] | frozenset[str]) -> str:
    """The registry name of ``method``: itself, or ``graphgpo_<method>`` if verl has a built-in of that name."""
    return f"graphgpo_{method}" if method in taken else method


def config_options(config: Any) -> dict[str, Any]:
    """The ``algorithm.graphgpo`` section as a plain dict (config: DictConfig, verl AlgoConfig, dict, None)."""
    if config is None:
        return {}
    section = config.get(CONFIG_SECTION, None) if hasattr(config, "get") else getattr(config, CONFIG_SECTION, None)
    if section is None:
        return {}
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(section, DictConfig):
            section = OmegaConf.to_container(section, resolve=True)
    except ImportError:  # pragma: no cover - verl always brings omegaconf
        pass
    if not isinstance(section, Mapping):
        raise TypeError(f"algorithm.{CONFIG_SECTION} must be a mapping of options, got {type(section).__name__}")
    return dict(section)


def _stock_rows(method: str, name: str, token_level_rewards: Any, index: Any, n: int) -> dict[str, np.ndarray]:
    """Stock verl's rows: one sample per row, grouped by uid, its reward the row's token reward sum."""
    if needs_states(method):
        raise ValueError(NEEDS_STATES.format(name=name))
    if index is None:
        raise ValueError(f"{name}: verl passed no uid (index) to group the rows by")
    rewards = token_level_rewards.detach().to("cpu").double().sum(-1).numpy()
    return {"uid": np.asarray(index), "traj_uid": np.arange(n), "rewards": rewards}


def make_estimator(method: str, name: str) -> Any:
    """The verl registry function for ``method`` (registered as ``name``)."""

    def estimator(token_level_rewards: Any, response_mask: Any, index: Any = None, config: Any = None,
                  non_tensor_batch: Mapping[str, Any] | None = None, batch: Any = None,
                  **_verl_kwargs: Any) -> tuple[Any, Any]:
        options = config_options(config)
        fields = Fields.of(options.pop("fields", None))
        n = int(response_mask.shape[0])
        tensors = batch if batch is not None else {fields.token_level_rewards: token_level_rewards,
                                                     fields.response_mask: response_mask}
        if non_tensor_batch is None:
            turns = _TURNS.get()
            if turns is not None:
                non_tensor_batch = _checked_turns(turns, fields, index, n, name)
            else:
                non_tensor_batch = _stock_rows(method, name, token_level_rewards, index, n)
                fields = Fields(state=None, next_state=None, valid=None, success=None, episode_reward=None)
                tensors = {fields.token_level_rewards: token_level_rewards, fields.response_mask: response_mask}
        values = row_advantages(Columns(tensors, non_tensor_batch), fields, method, n, **options)
        scores = token_advantages(values, response_mask, token_level_rewards)
        return scores, scores.clone()

    estimator.__name__ = estimator.__qualname__ = f"graphgpo_{method}_advantage"
    estimator.__doc__ = f"graphgpo's {method!r} advantages as a verl advantage estimator (see graphgpo.verl.registry)."
    setattr(estimator, MARK, method)
    return estimator


def _checked_turns(turns: dict[str, np.ndarray], fields: Fields, index: Any, n: int, name: str) -> dict:
    group = turns.get(fields.group)
    if group is None or len(group) != n:
        raise RuntimeError(f"{name}: the turn rows provided ({0 if group is None else len(group)}) do not match "
                           f"the batch ({n} rows)")
    if index is not None and np.asarray(index).tolist() != np.asarray(group).tolist():
        raise RuntimeError(f"{name}: the turn rows provided are not in the batch's row order (uid differs)")
    return turns


def register_estimators() -> dict[str, str]:
    """Register every method of :data:`graphgpo.METHODS` in verl's advantage registry; returns
    ``{registry name: method}``. Safe to call again (a module reload replaces graphgpo's own entries); a
    name held by another package is left alone, with a warning."""
    from verl.trainer.ppo import core_algos

    registry = core_algos.ADV_ESTIMATOR_REGISTRY
    builtins = frozenset(e.value for e in core_algos.AdvantageEstimator)
    done: dict[str, str] = {}
    for method in METHODS:
        name = registry_name(method, builtins)
        existing = registry.get(name)
        if existing is not None and getattr(existing, MARK, None) != method:
            logger.warning("graphgpo: verl advantage estimator %r is already registered by %s; graphgpo's %r "
                           "is not registered", name, getattr(existing, "__module__", existing), method)
            continue
        fn = make_estimator(method, name)
        if existing is None:
            core_algos.register_adv_est(name)(fn)
        else:  # our own entry from an earlier import: verl refuses a second function, so replace it in place
            registry[name] = fn
        done[name] = method
    return done
