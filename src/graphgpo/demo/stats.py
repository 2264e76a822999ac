"""Statistics over seeds: mean with a 95% confidence interval, and paired differences between estimators.

Every estimator is trained on the same seeds, and a seed fixes the levels, their order and the initial
policy for all of them, so two estimators' results on one seed are a matched pair. The paired difference
(estimator minus baseline, per seed) removes the seed-to-seed variation both share, and its confidence
interval says whether the gap is larger than what the seeds leave unexplained.

The intervals are Student-t intervals (mean ± t(0.975, n - 1) * s / sqrt(n), s the sample standard
deviation): exact for normal data, and the usual choice for a handful of seeds. No scipy needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["t_quantile_975", "summarize", "paired_difference"]

# t(0.975, df) for df = 1..30 (scipy.stats.t.ppf, 6 decimals).
_T975 = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
         2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963,
         2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272)
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (error < 1e-5 for every df >= 1)."""
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    # Cornish-Fisher expansion of the t quantile around the normal one (Abramowitz & Stegun 26.7.5).
    z = _Z975
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def summarize(values: Sequence[float | None]) -> dict[str, Any]:
    """Mean, sample standard deviation and 95% CI ``[lo, hi]`` of the values that are not None.

    ``n`` counts those values and ``of`` all of them (a seed that never reached the target gives None).
    With fewer than two values the standard deviation and the interval are None.
    """
    got = [float(v) for v in values if v is not None]
    n = len(got)
    mean = math.fsum(got) / n if n else None
    std = ci = None
    if n >= 2:
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in got) / (n - 1))
        half = t_quantile_975(n - 1) * std / math.sqrt(n)
        ci = [mean - half, mean + half]
    return {"mean": mean, "std": std, "ci": ci, "n": n, "of": len(values)}


def paired_difference(values: Sequence[float | None], baseline: Sequence[float | None]) -> dict[str, Any]:
    """:func:`summarize` of ``values[i] - baseline[i]`` over the seeds where both are known."""
    if len(values) != len(baseline):
        raise ValueError(f"paired values need the same seeds: {len(values)} values, {len(baseline)} baseline")
    return summarize([None if a is None or b is None else a - b for a, b in zip(values, baseline, strict=True)])
