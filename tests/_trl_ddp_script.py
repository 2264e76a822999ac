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


def run(out_dir: str, per_device: int, estimator: str = "graphgpo", bad_trace_rank: int = -1) -> None:
    """Train one step on this process's slice and save what it produced to OUT/rank{r}.pt.

    ``bad_trace_rank``: that rank's environments report invalid state keys (error-path test).
    """
    import torch
    from datasets import Dataset

    from graphgpo.trl import GraphGPOConfig
    from graphgpo.trl.testing import tiny_model, tiny_tokenizer

    tok = tiny_tokenizer(
        [H.LineWorld.move], corpus=[" Slot 1. You are at 0; the goal is at 3.", "You are at 2."]
    )
    model = tiny_model(tok)
    data = Dataset.from_dict(
        {"prompt": [[{"role": "user", "content": "Walk to the goal."}]] * 2, "goal": [2, 3]}
    )
    args = GraphGPOConfig(
        output_dir=os.path.join(out_dir, "trainer"),
        max_steps=1,
        per_device_train_batch_size=per_device,
        num_generations=4,
        max_completion_length=200,
        learning_rate=0.1,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        advantage_estimator=estimator,
        omega=0.5,
        seed=0,
        disable_tqdm=True,
    )
    trainer = H.recording_trainer_class()(
        model,
        reward_funcs=H.success_reward,
        args=args,
        train_dataset=data,
        processing_class=tok,
        environment_factory=H.line_world_factory(bad_keys=int(os.environ.get("RANK", 0)) == bad_trace_rank),
    )
    trainer.model.generate = H.ScriptedGenerate(tok)
    trainer.train()
    rank = trainer.accelerator.process_index
    record = trainer.recorded[0]
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
        },
        os.path.join(out_dir, f"rank{rank}.pt"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-device", type=int, required=True)
    parser.add_argument("--estimator", default="graphgpo")
    parser.add_argument("--bad-trace-rank", type=int, default=-1)
    ns = parser.parse_args()
    run(ns.out, ns.per_device, ns.estimator, ns.bad_trace_rank)


if __name__ == "__main__":
    main()
