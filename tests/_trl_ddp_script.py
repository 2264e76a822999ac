"""One scripted GraphGPOTrainer step, run under torchrun (or called in-process) by tests/test_trl.py.

Every process trains on its slice of the same generation batch (two LineWorld tasks x 4 rollouts,
scripted turns) and saves what `_generate_and_score_completions` returned to ``OUT/rank{r}.pt``.
The 1-process and 2-process runs see the same rollouts in the same global order, so their per-token
advantages must agree.

    torchrun --nproc_per_node=2 tests/_trl_ddp_script.py --out DIR --per-device 4
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import trl_helpers as H  # noqa: E402  (sets the offline environment variables first)


def run(out_dir: str, per_device: int, estimator: str = "graphgpo", bad_trace_rank: int = -1,
        memory: bool = False) -> None:
    """Train one step on this process's slice and save what it produced to OUT/rank{r}.pt.

    ``bad_trace_rank``: that rank's environments report invalid state keys (error-path test).
    ``memory``: graph memory keyed by goal, two steps (the second fails everywhere, so its step credit comes
    from the memory); the second step's output is saved, with the rank's memory (``memory``, its bytes).
    """
    import torch

    extra = {"graph_memory": True, "task_column": "goal", "max_steps": 2} if memory else {}
    trainer = H.scripted_line_world_trainer(
        os.path.join(out_dir, "trainer"),
        per_device=per_device,
        max_completion_length=200,
        estimator=estimator,
        bad_keys=int(os.environ.get("RANK", 0)) == bad_trace_rank,
        **extra,
    )
    if memory:
        H.fail_after_first_step(trainer)
    trainer.train()
    rank = trainer.accelerator.process_index
    record = trainer.recorded[-1]
    torch.save(
        {
            k: record[k]
            for k in (
                "advantages",
                "completion_ids",
                "completion_mask",
                "tool_mask",
                "environments_traces",
                "environments_success",
            )
        }
        | ({"memory": trainer._graph_memory.__getstate__()} if memory else {}),
        os.path.join(out_dir, f"rank{rank}.pt"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-device", type=int, required=True)
    parser.add_argument("--estimator", default="graphgpo")
    parser.add_argument("--bad-trace-rank", type=int, default=-1)
    parser.add_argument("--memory", action="store_true")
    ns = parser.parse_args()
    try:
        run(ns.out, ns.per_device, ns.estimator, ns.bad_trace_rank, ns.memory)
    finally:
        # Tear gloo down before interpreter exit: leaving the process group alive made a rank abort at exit
        # now and then ("terminate called without an active exception", seen in CI).
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
