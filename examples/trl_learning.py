"""A small chat LLM learns bundled Sokoban through GraphGPOTrainer, on a CPU (same as ``graphgpo demo-llm``).

    python examples/trl_learning.py --out llm-demo            # the full run (about 30 min on 2 cores)
    python examples/trl_learning.py --quick --out /tmp/quick  # the CI smoke run

It builds a Qwen2 chat model and a tokenizer in-process, warm-starts the model by supervised fine-tuning
on noisy optimal solutions of generated levels, then trains the same checkpoint with each advantage
estimator (grpo, graphgpo) through ``environment_factory`` -- TRL's real multi-turn tool loop -- with the
same seeds and budget, and plays held-out levels before and after. ``--out`` gets
``results.json`` (every number), ``runs.jsonl``, ``learning_curves.png`` and the warm-start checkpoint.
See ``--help`` for the settings and the README section "LLM learning run" for measured results.
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    from graphgpo.trl import demo

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    demo.add_arguments(parser)
    return demo.main(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
