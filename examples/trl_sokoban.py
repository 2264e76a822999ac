"""Train an LLM agent on the bundled text Sokoban with GraphGPO credit assignment (TRL).

Each dataset row is one level (its ``seed``); TRL resets ``num_generations`` copies of
``graphgpo.envs.SokobanEnvironment`` on it, the model plays by calling the ``move`` tool, and
``GraphGPOTrainer`` merges the copies' step traces into a state graph to credit every move.

    # any local chat model with a tool-calling template TRL knows (Qwen2.5 / Qwen3 ...)
    python examples/trl_sokoban.py --model /path/to/Qwen2.5-1.5B-Instruct --max-steps 200

    # offline smoke run: a tiny random Qwen2 and an in-process tokenizer, 2 steps on CPU
    python examples/trl_sokoban.py --tiny

The tiny model cannot play (it rarely writes a tool call), so its run only shows that the pipeline
works end to end; the graph metrics (``graph/*``) and per-token advantage statistics
(``advantages/*``) are printed at each logging step.
"""

from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="local path of a causal LM with a tool-calling chat template")
    src.add_argument("--tiny", action="store_true", help="tiny random model and tokenizer built in-process")
    p.add_argument("--estimator", default="graphgpo", choices=["grpo", "gigpo", "graphgpo"])
    p.add_argument("--omega", type=float, default=0.8, help="GraphGPO discount (official Sokoban value: 0.8)")
    p.add_argument("--levels", type=int, default=64, help="number of generated levels (dataset rows)")
    p.add_argument("--size", type=int, default=6, help="interior size of the generated rooms")
    p.add_argument("--num-boxes", type=int, default=1)
    p.add_argument("--env-max-steps", type=int, default=20, help="moves allowed per episode")
    p.add_argument("--num-generations", type=int, default=None, help="rollouts per level (default 8; tiny 4)")
    p.add_argument("--batch-size", type=int, default=None, help="rollouts per device and step")
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default 200; tiny 2)")
    p.add_argument("--max-completion-length", type=int, default=None, help="tokens per episode")
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--output-dir", default="graphgpo-sokoban")
    return p.parse_args(argv)


def build(ns: argparse.Namespace):
    """(model, tokenizer, config, dataset) for the chosen mode."""
    import torch
    from datasets import Dataset

    from graphgpo.envs import SokobanEnvironment
    from graphgpo.trl import GraphGPOConfig

    tiny = ns.tiny
    num_generations = ns.num_generations or (4 if tiny else 8)
    prompt = [
        {"role": "user", "content": "Solve this Sokoban level by calling the move tool, one move per call."}
    ]
    dataset = Dataset.from_dict({"prompt": [prompt] * ns.levels, "seed": list(range(ns.levels))})

    if tiny:
        from graphgpo.trl.testing import tiny_model, tiny_tokenizer

        env = SokobanEnvironment(size=ns.size, num_boxes=ns.num_boxes, max_steps=ns.env_max_steps)
        boards = [env.reset(seed=s) for s in range(4)]
        tokenizer = tiny_tokenizer([SokobanEnvironment.move], corpus=boards)
        model = tiny_model(tokenizer)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(ns.model, padding_side="left")
        dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
        model = AutoModelForCausalLM.from_pretrained(ns.model, dtype=dtype)

    on_cpu = not torch.cuda.is_available()
    config = GraphGPOConfig(
        output_dir=ns.output_dir,
        advantage_estimator=ns.estimator,
        omega=ns.omega,
        num_generations=num_generations,
        per_device_train_batch_size=ns.batch_size or num_generations,
        max_steps=ns.max_steps or (2 if tiny else 200),
        max_completion_length=ns.max_completion_length or (64 if tiny else 1024),
        max_tool_calling_iterations=ns.env_max_steps,
        learning_rate=ns.learning_rate or (1e-3 if tiny else 1e-6),
        use_cpu=on_cpu,
        bf16=not on_cpu,
        # beta=0 (TRL's default) keeps the reference model out: a model built in-process has no path
        # to reload it from.
        beta=0.0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
    )
    return model, tokenizer, config, dataset


def main(argv=None) -> int:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    ns = parse_args(argv)
    if ns.tiny:
        # Nothing to download in tiny mode; make sure nothing tries.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    from graphgpo.envs import SokobanEnvironment
    from graphgpo.trl import GraphGPOTrainer

    model, tokenizer, config, dataset = build(ns)
    size, boxes, moves = ns.size, ns.num_boxes, ns.env_max_steps
    trainer = GraphGPOTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        # The environment's get_reward (1 when solved) is the reward; its trace feeds the graph.
        environment_factory=lambda: SokobanEnvironment(size=size, num_boxes=boxes, max_steps=moves),
    )
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "graph/success_rate" in entry]
    if logged:
        last = logged[-1]
        keys = [
            "reward",
            "graph/success_rate",
            "graph/steps_per_episode",
            "graph/states_per_group",
            "advantages/token_mean",
            "advantages/token_std",
        ]
        print("last step: " + ", ".join(f"{k}={last[k]:.4g}" for k in keys if k in last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
