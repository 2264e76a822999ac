"""Markdown tables of the study from the JSON files that credit.py, learn.py and demo_check.py write.

    python -m benchmarks.research.report docs/research/credit.json docs/research/learn_lr1.json ...
"""

from __future__ import annotations

import json
import sys

import numpy as np

from .learn import ci


def credit_table(res: dict) -> str:
    cols = list(next(iter(res.values())))
    envs = list(dict.fromkeys(c.split(" p=")[0] for c in cols))
    head = "| candidate | " + " | ".join(f"{e} p={c.split('p=')[1]}" for c in cols for e in [c.split(' p=')[0]]) \
        + " | mean |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    for name, r in res.items():
        vals = [r[c][0] for c in cols]
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {np.mean(vals):.3f} |")
    del envs
    return "\n".join(lines)


def learn_table(res: dict, base: str = "graphgpo w0.1") -> str:
    envs = list(res)
    names = list(res[envs[0]])
    lines = ["| candidate | " + " | ".join(f"{e} AUC (diff vs {base})" for e in envs) + " |",
             "|" + "---|" * (len(envs) + 1)]
    for name in names:
        cells = []
        for e in envs:
            a = np.array(res[e][name]["auc"])
            m, h = ci(a)
            cell = f"{m:.3f} ± {h:.3f}"
            if name != base and base in res[e]:
                dm, dh = ci(a - np.array(res[e][base]["auc"]))
                cell += f" ({dm:+.3f} ± {dh:.3f})"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    for path in sys.argv[1:]:
        with open(path) as fh:
            res = json.load(fh)
        print(f"\n<!-- {path} -->")
        first = next(iter(res.values()))
        if isinstance(next(iter(first.values())), list):
            print(credit_table(res))
        else:
            print(learn_table(res))


if __name__ == "__main__":
    main()
