"""Numbers to text: per-metric summaries over seeds and the results table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["summarize", "format_table"]


def summarize(values: Sequence[float | None]) -> dict[str, Any]:
    got = [v for v in values if v is not None]
    return {"mean": float(np.mean(got)) if got else None, "std": float(np.std(got)) if got else None,
            "n": len(got), "of": len(values)}


def _fmt(s: dict[str, Any], digits: int = 3, pct: bool = False) -> str:
    if s["mean"] is None:
        return "never"
    scale = 100.0 if pct else 1.0
    text = f"{s['mean'] * scale:.{digits}f} ± {s['std'] * scale:.{digits}f}"
    if s["n"] != s["of"]:
        text += f" ({s['n']}/{s['of']} seeds)"
    return text


def format_table(results: dict[str, Any]) -> str:
    """The results table, one row per estimator (mean ± std over seeds)."""
    cfg = results["config"]
    header = ["estimator", "final success %", "AUC (mean success %)", f"episodes to {cfg['target']:.0%}",
              "credit accuracy %", "in groups with a success %"]
    rows = []
    for est, s in results["summary"].items():
        rows.append([est, _fmt(s["final_success"], 1, True), _fmt(s["auc"], 1, True),
                     _fmt(s["episodes_to_target"], 0), _fmt(s["credit_accuracy"], 1, True),
                     _fmt(s["credit_accuracy_solved_groups"], 1, True)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)
