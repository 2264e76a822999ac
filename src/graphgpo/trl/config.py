"""`GraphGPOConfig`: `trl.GRPOConfig` plus the advantage-estimator options of SPEC.md."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from trl import GRPOConfig

__all__ = ["GraphGPOConfig", "ESTIMATORS"]

ESTIMATORS = ("grpo", "gigpo", "graphgpo", "progpo")
_CHOICES = {
    "advantage_estimator": ESTIMATORS,
    "norm": ("mean_std", "mean"),
    "convention": ("reference", "paper"),
    "episode_stats": ("per_step", "per_trajectory"),
    "distance": ("shortest", "expected"),
    "episode_reward": ("auto", "success", "reward_funcs"),
}


@dataclass
class GraphGPOConfig(GRPOConfig):
    r"""
    Configuration class for [`GraphGPOTrainer`]: every [`trl.GRPOConfig`] parameter plus the options of the
    step-level advantage estimators (SPEC.md; defaults reproduce the official GraphGPO code).

    Parameters:
        > Parameters that choose and tune the advantage estimator

        advantage_estimator (`str`, *optional*, defaults to `"graphgpo"`):
            `"grpo"` (episode advantage only), `"gigpo"` (plus a step advantage from discounted returns among
            steps taken from the same state), `"graphgpo"` (plus a step advantage from the next state's
            distance to success on the group's state graph) or `"progpo"` (every step credited by whether it
            gets closer to success on the group's graph, outranking the outcome; SPEC "ProGPO").
        omega (`float`, *optional*, defaults to `0.1`):
            GraphGPO distance discount in (0, 1): a step's return is
            `success_reward * omega ** d(next_state)`.
            The official runs use 0.1 (ALFWorld), 0.2 (WebShop), 0.8 (Sokoban).
        gamma (`float`, *optional*, defaults to `0.95`):
            GiGPO reward discount in [0, 1].
        success_reward (`float`, *optional*, defaults to `10.0`):
            Reward of a successful episode and scale of GraphGPO step returns.
        invalid_penalty (`float`, *optional*, defaults to `0.1`):
            Subtracted from the episode score and the step return of a step whose action was invalid.
        step_weight (`float`, *optional*, defaults to `1.0`):
            Weight of the step advantage.
        episode_weight (`float`, *optional*, defaults to `1.0`):
            Weight of the episode advantage.
        norm (`str`, *optional*, defaults to `"mean_std"`):
            `"mean_std"`: `(x - mean) / (std + adv_eps)`; `"mean"`: `x - mean`.
        adv_eps (`float`, *optional*, defaults to `1e-6`):
            Epsilon of the advantage normalisation (SPEC `eps`; named so it cannot clash with `epsilon`, the
            clipping range).
        convention (`str`, *optional*, defaults to `"reference"`):
            `"reference"`: exponent `d(next_state)` (official code); `"paper"`: `d(next_state) + cost`
            (Eq. 4).
        episode_stats (`str`, *optional*, defaults to `"per_step"`):
            Normalise the episode score over all steps of the group (`"per_step"`, verl-agent) or over one
            score per trajectory (`"per_trajectory"`).
        normalize_distance (`bool`, *optional*, defaults to `False`):
            Use `omega ** (d(next) - d(state) + 1)` as the GraphGPO step return.
        distance (`str`, *optional*, defaults to `"shortest"`):
            `"shortest"` path distance, or `"expected"` distance over observed transition frequencies
            (needs an action key on every trace step).
        episode_reward (`str`, *optional*, defaults to `"auto"`):
            Episode reward given to the estimator. `"reward_funcs"`: TRL's weighted reward (the trainer's
            `reward_funcs` plus any environment's `get_reward`), placed on the episode's last step.
            `"success"`: `success_reward` when the episode succeeded, else 0 (SPEC default). `"auto"`:
            `"reward_funcs"` when the trainer was given `reward_funcs`, else `"success"`; it warns once when
            the rollouts also report `graphgpo_success`, which then only decides which rollouts reach the
            graph's SUCCESS node. Success itself comes from `graphgpo_success`, else from the reward > 0.
    """

    advantage_estimator: str = field(
        default="graphgpo",
        metadata={"help": "Advantage estimator.", "choices": list(ESTIMATORS)},
    )
    omega: float = field(
        default=0.1,
        metadata={
            "help": "GraphGPO distance discount in (0, 1) (official: 0.1 ALFWorld, 0.2 WebShop, 0.8 Sokoban)."
        },
    )
    gamma: float = field(default=0.95, metadata={"help": "GiGPO reward discount in [0, 1]."})
    success_reward: float = field(
        default=10.0, metadata={"help": "Reward of a successful episode and scale of GraphGPO step returns."}
    )
    invalid_penalty: float = field(
        default=0.1, metadata={"help": "Penalty on the scores of a step whose action was invalid."}
    )
    step_weight: float = field(default=1.0, metadata={"help": "Weight of the step advantage."})
    episode_weight: float = field(default=1.0, metadata={"help": "Weight of the episode advantage."})
    norm: str = field(
        default="mean_std",
        metadata={
            "help": "Advantage normalisation: (x - mean) / (std + adv_eps), or x - mean.",
            "choices": list(_CHOICES["norm"]),
        },
    )
    adv_eps: float = field(
        default=1e-6, metadata={"help": "Epsilon of the advantage normalisation (SPEC eps)."}
    )
    convention: str = field(
        default="reference",
        metadata={
            "help": "GraphGPO step return exponent: d(next) (official code) or d(next) + cost (paper).",
            "choices": list(_CHOICES["convention"]),
        },
    )
    episode_stats: str = field(
        default="per_step",
        metadata={
            "help": "Normalise episode scores over steps (verl-agent) or over trajectories.",
            "choices": list(_CHOICES["episode_stats"]),
        },
    )
    normalize_distance: bool = field(
        default=False, metadata={"help": "Use omega ** (d(next) - d(state) + 1) as the GraphGPO step return."}
    )
    distance: str = field(
        default="shortest",
        metadata={
            "help": "Shortest-path or expected distance to success (expected needs action keys).",
            "choices": list(_CHOICES["distance"]),
        },
    )
    episode_reward: str = field(
        default="auto",
        metadata={
            "help": "Episode reward for the estimator: TRL's weighted reward (reward_funcs), success_reward on "
            "success (success), or reward_funcs when the trainer was given reward_funcs (auto).",
            "choices": list(_CHOICES["episode_reward"]),
        },
    )

    def __post_init__(self):
        # Check our own fields first: a typo in an estimator option should not surface as a GRPO error.
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
        for name in (
            "omega",
            "gamma",
            "success_reward",
            "invalid_penalty",
            "step_weight",
            "episode_weight",
            "adv_eps",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not 0.0 < self.omega < 1.0:
            raise ValueError(f"omega must be in (0, 1), got {self.omega!r}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma!r}")
        if self.adv_eps < 0.0:
            raise ValueError(f"adv_eps must be >= 0, got {self.adv_eps!r}")
        if not isinstance(self.normalize_distance, bool):
            raise ValueError(f"normalize_distance must be a bool, got {self.normalize_distance!r}")
        super().__post_init__()

    def estimator_options(self) -> dict:
        """The SPEC options, under the engine's names, for `graphgpo.advantages(method, ..., **options)`."""
        return {
            "omega": float(self.omega),
            "gamma": float(self.gamma),
            "success_reward": float(self.success_reward),
            "invalid_penalty": float(self.invalid_penalty),
            "step_weight": float(self.step_weight),
            "episode_weight": float(self.episode_weight),
            "norm": self.norm,
            "eps": float(self.adv_eps),
            "convention": self.convention,
            "episode_stats": self.episode_stats,
            "normalize_distance": self.normalize_distance,
            "distance": self.distance,
        }
