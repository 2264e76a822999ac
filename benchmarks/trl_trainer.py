"""What GraphGPOTrainer costs on top of TRL's GRPOTrainer: same model, data and seeds, steps interleaved.

Both trainers play the same scripted LineWorld rollouts (:mod:`graphgpo.trl.testing`: the completions do not
depend on the weights), so they see identical batches. For each batch size the two trainers take turns
(GRPO, GraphGPO, GRPO, ...) so that a change in machine load hits both alike. One step here is
``_generate_and_score_completions`` (generation, rewards, advantages) plus the loss and its backward pass,
which is all the two trainers can differ in. GraphGPOTrainer's own time is measured inside it: the work
after the parent's method (records, the engine, the per-token layout, logging), split into the engine
calls and the rest (Python).

    python -m benchmarks.trl_trainer                 # 64..512 rollouts, writes benchmarks/TRAINER.md
    python -m benchmarks.trl_trainer --quick         # a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

OUT = Path(__file__).resolve().parent / "TRAINER.md"


class Clock:
    """Accumulated seconds per label; ``wrap`` times every call of a function."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, label: str, dt: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + dt

    def wrap(self, label: str, fn):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - t0)

        return timed


@contextlib.contextmanager
def _patched(obj, name: str, value):
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def _trainers(rollouts: int, goal: int, seed: int, out_dir: str):
    """A GRPOTrainer and a GraphGPOTrainer on copies of one tiny model, scripted LineWorld generation."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from graphgpo.trl import GraphGPOConfig, GraphGPOTrainer
    from graphgpo.trl.testing import (
        LineWorld,
        ScriptedGenerate,
        line_world_factory,
        success_reward,
        tiny_model,
        tiny_tokenizer,
    )

    tok = tiny_tokenizer([LineWorld.move], corpus=[" Slot 1. You are at 0; the goal is at 3.", "You are at 2."])
    data = Dataset.from_dict({"prompt": [[{"role": "user", "content": "Walk to the goal."}]], "goal": [goal]})
    common = dict(
        max_steps=1, per_device_train_batch_size=rollouts, num_generations=8, max_completion_length=40 * goal + 80,
        learning_rate=1e-3, use_cpu=True, bf16=False, report_to="none", save_strategy="no", logging_steps=1,
        seed=seed, disable_tqdm=True, activation_checkpointing=False,
    )
    trainers = []
    for cls, config in ((GRPOTrainer, GRPOConfig(output_dir=out_dir, **common)),
                        (GraphGPOTrainer, GraphGPOConfig(output_dir=out_dir, omega=0.5, **common))):
        trainer = cls(tiny_model(tok, seed=seed), reward_funcs=success_reward, args=config, train_dataset=data,
                      processing_class=tok, environment_factory=line_world_factory())
        trainer.model.generate = ScriptedGenerate(tok)
        trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(), which is not used here
        trainers.append(trainer)
    inputs = [dict(data[0]) for _ in range(rollouts)]
    return trainers, inputs


def _step(trainer, inputs) -> None:
    out = trainer._generate_and_score_completions(inputs)
    loss = trainer.compute_loss(trainer.model, out)
    loss.backward()
    trainer.model.zero_grad(set_to_none=True)


def measure(rollouts: int, goal: int, repeats: int, seed: int, out_dir: str) -> dict:
    """Median step times of both trainers and GraphGPOTrainer's own time, over ``repeats`` interleaved pairs."""
    import torch
    from trl import GRPOTrainer

    from graphgpo.trl import _engine
    from graphgpo.trl.trainer import GraphGPOTrainer

    torch.manual_seed(seed)
    (grpo, ours), inputs = _trainers(rollouts, goal, seed, out_dir)
    clock = Clock()
    parent = GRPOTrainer._generate_and_score_completions
    times = {"grpo": [], "graphgpo": [], "own": [], "engine": [], "rows": []}

    def timed_parent(self, batch):
        t0 = time.perf_counter()
        try:
            return parent(self, batch)
        finally:
            if isinstance(self, GraphGPOTrainer):
                clock.add("parent", time.perf_counter() - t0)

    engine_fns = {name: getattr(_engine, name) for name in ("advantages", "diagnostics", "fingerprint")}
    with contextlib.ExitStack() as stack:
        stack.enter_context(_patched(GRPOTrainer, "_generate_and_score_completions", timed_parent))
        for name, fn in engine_fns.items():
            stack.enter_context(_patched(_engine, name, clock.wrap("engine", fn)))
        for k in range(repeats + 1):  # the first pair warms up
            for label, trainer in (("grpo", grpo), ("graphgpo", ours)):
                clock.seconds.clear()
                t0 = time.perf_counter()
                _step(trainer, inputs)
                dt = time.perf_counter() - t0
                if k == 0:
                    continue
                times[label].append(dt)
                if label == "graphgpo":
                    scored = clock.seconds.get("generate_and_score", 0.0)
                    times["own"].append(scored - clock.seconds.get("parent", 0.0))
                    times["engine"].append(clock.seconds.get("engine", 0.0))
                    times["rows"].append(sum(len(e.graphgpo_trace) or 1 for e in ours.environments))
            if k == 0:
                # Time GraphGPOTrainer's whole method from now on (the parent part is timed inside it).
                stack.enter_context(_patched(ours, "_generate_and_score_completions",
                                             clock.wrap("generate_and_score", ours._generate_and_score_completions)))
    med = {key: statistics.median(v) for key, v in times.items()}
    return {
        "rollouts": rollouts,
        "rows": int(med["rows"]),
        "grpo_step": med["grpo"],
        "graphgpo_step": med["graphgpo"],
        "own": med["own"],
        "engine": med["engine"],
        "python": med["own"] - med["engine"],
        "share": med["own"] / med["graphgpo"],
        "repeats": repeats,
    }


def _table(results: list[dict], load: tuple[list[float] | None, list[float] | None]) -> str:
    import platform

    import graphgpo

    lines = [
        "# GraphGPOTrainer cost against TRL's GRPOTrainer",
        "",
        "Produced by `python -m benchmarks.trl_trainer`: the same tiny model, scripted LineWorld rollouts and",
        "seed for both trainers, steps interleaved (GRPO, GraphGPO, ...) in one process; medians over the",
        "repeats. A step is `_generate_and_score_completions` plus the loss and its backward pass (no",
        "optimizer). *graphgpo* is GraphGPOTrainer's own work after TRL's method (trace records, the",
        "engine, the per-token layout, logging); *engine* the graphgpo engine calls inside it.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, graphgpo "
        f"{graphgpo.__version__}, load average before/after {load[0]} / {load[1]}.",
        "",
        "| rollouts | step rows | GRPOTrainer step | GraphGPOTrainer step | difference | graphgpo | engine | Python "
        "| graphgpo share of the step |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['rollouts']} | {r['rows']:,} | {r['grpo_step'] * 1e3:.1f} ms | {r['graphgpo_step'] * 1e3:.1f} ms "
            f"| {(r['graphgpo_step'] - r['grpo_step']) * 1e3:+.1f} ms | {r['own'] * 1e3:.2f} ms "
            f"| {r['engine'] * 1e3:.2f} ms | {r['python'] * 1e3:.2f} ms | {100 * r['share']:.2f}% |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    import tempfile

    import torch

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rollouts", default="64,128,256,512", help="comma-separated rollouts per step")
    p.add_argument("--goal", type=int, default=12, help="LineWorld length: episodes take up to goal + 2 steps")
    p.add_argument("--repeats", type=int, default=5, help="interleaved step pairs per batch size")
    p.add_argument("--threads", type=int, default=1, help="torch threads (one is fastest for the tiny model)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--quick", action="store_true", help="64 rollouts, 2 repeats, short episodes")
    ns = p.parse_args(argv)
    if ns.quick:
        ns.rollouts, ns.repeats, ns.goal = "64", 2, 4
    torch.set_num_threads(ns.threads)
    load_before = [round(x, 2) for x in os.getloadavg()]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in ns.rollouts.split(",")):
            r = measure(n, ns.goal, ns.repeats, seed=0, out_dir=tmp)
            results.append(r)
            print(f"{n} rollouts ({r['rows']} rows): grpo {r['grpo_step'] * 1e3:.1f} ms, graphgpo "
                  f"{r['graphgpo_step'] * 1e3:.1f} ms, own {r['own'] * 1e3:.2f} ms (engine {r['engine'] * 1e3:.2f} ms)",
                  flush=True)
    text = _table(results, (load_before, [round(x, 2) for x in os.getloadavg()]))
    if not ns.quick:
        Path(ns.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
