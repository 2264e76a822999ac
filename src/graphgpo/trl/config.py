"""`GraphGPOConfig`: `trl.GRPOConfig` plus the advantage-estimator options of SPEC.md.

The estimator fields carry SPEC's names (none of them clashes with a `GRPOConfig` field, so there are no
aliases); their defaults, choices and help text come from the engine's option table
(`graphgpo.option_schema()`), and their values are checked by the engine's own option check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trl import GRPOConfig

from .._estimators import ESTIMATORS as _REGISTRY
from .._estimators import METHODS
from .._options import DEFAULT_OPTIONS, OPTION_SCHEMA, checked_options_json
from ._memory import GraphMemoryArgs

__all__ = ["GraphGPOConfig", "ESTIMATORS"]

#: The advantage estimators the trainer can use (every method of the engine).
ESTIMATORS = METHODS
_EPISODE_REWARDS = ("auto", "success", "reward_funcs")
_SCHEMA = {o["name"]: o for o in OPTION_SCHEMA}


def _option(name: str) -> Any:
    """A dataclass field for the engine option `name`: its default, one-line help and choices."""
    o = _SCHEMA[name]
    metadata: dict[str, Any] = {"help": o["doc"][:1].upper() + o["doc"][1:] + "."}
    if o["type"] == "choice":
        metadata["choices"] = list(o["choices"])
    return field(default=DEFAULT_OPTIONS[name], metadata=metadata)


def _trl_doc(o: dict[str, Any]) -> str:
    kinds = {"number": "float", "integer": "int", "boolean": "bool", "choice": "str"}
    return (f"        {o['name']} (`{kinds[o['type']]}`, *optional*, defaults to "
            f"`{DEFAULT_OPTIONS[o['name']]!r}`):\n            {o['doc'][:1].upper() + o['doc'][1:]}.")


@dataclass
class GraphGPOConfig(GraphMemoryArgs, GRPOConfig):
    r"""
    Configuration class for [`GraphGPOTrainer`]: every [`trl.GRPOConfig`] parameter plus the options of the
    step-level advantage estimators (SPEC.md; defaults reproduce the official GraphGPO code).

    Parameters:
        > Parameters that choose and tune the advantage estimator

        advantage_estimator (`str`, *optional*, defaults to `"graphgpo"`):
            One of `graphgpo.METHODS` (the engine's estimator registry):
{ESTIMATORS}
{OPTIONS}
        episode_reward (`str`, *optional*, defaults to `"auto"`):
            Episode reward given to the estimator. `"reward_funcs"`: TRL's weighted reward (the trainer's
            `reward_funcs` plus any environment's `get_reward`), placed on the episode's last step.
            `"success"`: `success_reward` when the episode succeeded, else 0 (SPEC default). `"auto"`:
            `"reward_funcs"` when the trainer was given `reward_funcs`, else `"success"`; it warns once when
            the rollouts also report `graphgpo_success`, which then only decides which rollouts reach the
            graph's SUCCESS node. Success itself comes from `graphgpo_success`, else from the reward > 0.

        > Parameters of the graph memory across training steps (SPEC "Graph memory across calls")

        graph_memory (`bool`, *optional*, defaults to `False`):
            Keep one `graphgpo.GraphMemory` across training steps: each task's graph also holds the edges of
            earlier generation batches, so a task whose rollouts all failed still gets step credit. Needs
            `advantage_estimator` `"graphgpo"` or `"progpo"` and `distance="shortest"`. Saved as
            `graphgpo_memory.bin` in every checkpoint and restored by `resume_from_checkpoint`.
        max_edges_per_task (`int` or `None`, *optional*, defaults to `None`):
            Each task keeps at most this many edges, the most recently seen (`None`: all).
        max_edges (`int` or `None`, *optional*, defaults to `None`):
            The whole memory keeps at most this many edges, the most recently seen (`None`: all).
        max_age (`int` or `None`, *optional*, defaults to `None`):
            Edges not seen in the last `max_age` generation batches are dropped (`None`: never).
        task_column (`str` or `None`, *optional*, defaults to `None`):
            The dataset column whose value (str or int) is a rollout's task. `None`: the prompt is the task
            (set a column when one prompt serves several tasks, e.g. a level passed to the environment).
    """

    advantage_estimator: str = field(
        default="graphgpo",
        metadata={"help": "Advantage estimator.", "choices": list(ESTIMATORS)},
    )
    # The engine's estimator options, SPEC names (tests/test_options.py checks that every one is here).
    omega: float = _option("omega")
    gamma: float = _option("gamma")
    success_reward: float = _option("success_reward")
    invalid_penalty: float = _option("invalid_penalty")
    step_weight: float = _option("step_weight")
    episode_weight: float = _option("episode_weight")
    norm: str = _option("norm")
    eps: float = _option("eps")
    convention: str = _option("convention")
    episode_stats: str = _option("episode_stats")
    normalize_distance: bool = _option("normalize_distance")
    distance: str = _option("distance")
    merge: str = _option("merge")
    similarity: float = _option("similarity")
    episode_reward: str = field(
        default="auto",
        metadata={
            "help": "Episode reward for the estimator: TRL's weighted reward (reward_funcs), success_reward on "
            "success (success), or reward_funcs when the trainer was given reward_funcs (auto).",
            "choices": list(_EPISODE_REWARDS),
        },
    )

    def __post_init__(self):
        # Check our own fields first: a typo in an estimator option should not surface as a GRPO error.
        if self.advantage_estimator not in ESTIMATORS:
            raise ValueError(f"advantage_estimator must be one of {list(ESTIMATORS)}, "
                             f"got {self.advantage_estimator!r}")
        if self.episode_reward not in _EPISODE_REWARDS:
            raise ValueError(f"episode_reward must be one of {list(_EPISODE_REWARDS)}, got {self.episode_reward!r}")
        for name in DEFAULT_OPTIONS:
            value = getattr(self, name)
            if _SCHEMA[name]["type"] == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{name} must be a number, got {value!r}")
        checked_options_json(self.estimator_options())  # the engine's checks: ranges, choices, finiteness
        super().__post_init__()

    def estimator_options(self) -> dict:
        """The SPEC options for `graphgpo.advantages(method, ..., **options)`."""
        return {name: (float(getattr(self, name)) if _SCHEMA[name]["type"] == "number" else getattr(self, name))
                for name in DEFAULT_OPTIONS}


GraphGPOConfig.__doc__ = GraphGPOConfig.__doc__.replace(
    "{ESTIMATORS}", "\n".join(f'            - `"{e.name}"`: {e.summary}.' for e in _REGISTRY.values())).replace(
    "{OPTIONS}", "\n".join(_trl_doc(o) for o in OPTION_SCHEMA if o["name"] in DEFAULT_OPTIONS))
