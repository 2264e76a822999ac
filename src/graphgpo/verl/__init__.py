"""verl integration: graphgpo's estimators for verl and verl-agent (``pip install "graphgpo[verl]"``).

- :func:`compute_advantage` computes any estimator for a verl-agent batch (one row per environment step,
  rows in any order) and writes ``advantages`` and ``returns``: the one call that replaces a verl-agent
  recipe's hard-coded GiGPO / GraphGPO branch.
- Installing the package registers the estimators in verl's advantage registry through the
  ``verl.plugins`` entry point (``algorithm.adv_estimator=graphgpo``, ``gigpo``, ``graphgpo_grpo``).
- :mod:`graphgpo.verl.trainer` carries per-turn states from verl's agent loop to those estimators.

Nothing here imports verl until it is needed: ``compute_advantage`` only needs torch. See docs/verl.md.
"""

from __future__ import annotations

from ._fields import Fields
from ._rows import MissingColumnError
from .advantage import compute_advantage

__all__ = ["Fields", "MissingColumnError", "compute_advantage"]
