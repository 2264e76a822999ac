"""Test helpers that ship with graphgpo, for its own tests, its benchmarks, and projects that build on it.

- :mod:`graphgpo.testing.reference`: the plain-Python reference of SPEC.md (slow on purpose, independent of
  the C++ engine: it imports only the standard library). ``reference_advantages(method, **rows, **options)``
  is the ground truth the engine is compared with.
- :mod:`graphgpo.testing.reference_similar`: the same for ``merge="similar"`` (difflib, the official greedy
  canonicalizer); ``reference_advantages`` calls it for that option.
- :mod:`graphgpo.testing.reference_memory`: graph memory across calls (SPEC "Graph memory across calls").
- :mod:`graphgpo.testing.spec_examples`: SPEC.md's worked examples as data, with the expected numbers.
- :mod:`graphgpo.testing.strategies`: hypothesis strategies for random batches and options (needs
  ``hypothesis``; imported on first use, so this package itself never requires it).
"""

from __future__ import annotations

from .reference import DEFAULTS, reference_advantages, reference_distances
from .spec_examples import EXAMPLE_1, EXAMPLE_2, EXPECTED_1, EXPECTED_2

__all__ = [
    "DEFAULTS",
    "EXAMPLE_1",
    "EXAMPLE_2",
    "EXPECTED_1",
    "EXPECTED_2",
    "reference_advantages",
    "reference_distances",
]
