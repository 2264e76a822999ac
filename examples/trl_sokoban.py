"""Train an LLM agent on the bundled text Sokoban with GraphGPO credit assignment (TRL).

Each dataset row is one level; TRL resets ``num_generations`` copies of
``graphgpo.envs.SokobanEnvironment`` on it, the model plays by calling the ``move`` tool, and
``GraphGPOTrainer`` merges the copies' step traces into a state graph to credit every move.

    # any local chat model with a tool-calling template TRL knows (Qwen2.5 / Qwen3 ...)
    python examples/trl_sokoban.py --model /path/to/Qwen2.5-1.5B-Instruct --max-steps 200

    # offline: a tiny Qwen2 and an in-process tokenizer, warm-started, then 2 GraphGPO steps on CPU
    python examples/trl_sokoban.py --tiny

A random tiny model never writes a tool call, so ``--tiny`` first warm-starts it by supervised
fine-tuning on noisy optimal solutions of small levels (about 20 s on a CPU core), laid out exactly as
TRL's tool loop lays out an episode; after that it plays (a few tool calls per episode), so the graph
and the per-step advantages are real. The graph metrics (``graph/*``), tool calls (``tools/*``) and
per-token advantage statistics (``advantages/*``) are printed at the end. For a full learning run with
evaluation on held-out levels, see ``graphgpo demo-llm`` (``examples/trl_learning.py``).

CPU threads: on CPU the example runs torch on one thread (``--threads``). For models this small, more
threads only add synchronisation: on a 2-core machine torch's default of two threads made tiny-model steps
3-10x slower than one thread.
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
    p.add_argument("--size", type=int, default=None, help="interior size of the generated rooms (default 6; tiny 4)")
    p.add_argument("--num-boxes", type=int, default=1)
    p.add_argument("--env-max-steps", type=int, default=None, help="moves allowed per episode (default 20; tiny 10)")
    p.add_argument("--num-generations", type=int, default=None, help="rollouts per level (default 8; tiny 4)")
    p.add_argument("--batch-size", type=int, default=None, help="rollouts per device and step")
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (default 200; tiny 2)")
    p.add_argument("--max-completion-length", type=int, default=None, help="tokens per episode")
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--warm-start-levels", type=int, default=160, help="--tiny: levels in the warm start")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: 1 on CPU, where tiny models run fastest on one thread)")
    p.add_argument("--output-dir", default="graphgpo-sokoban")
    ns = p.parse_args(argv)
    if ns.tiny:  # small rooms and short episodes: what a tiny model can learn to play
        ns.size = 4 if ns.size is None else ns.size
        ns.env_max_steps = 10 if ns.env_max_steps is None else ns.env_max_steps
    ns.size = 6 if ns.size is None else ns.size
    ns.env_max_steps = 20 if ns.env_max_steps is None else ns.env_max_steps
    return ns


def build(ns: argparse.Namespace):
    """(model, tokenizer, config, dataset, environment arguments) for the chosen mode."""
    import torch
    from datasets import Dataset

    from graphgpo.trl import GraphGPOConfig

    tiny = ns.tiny
    num_generations = ns.num_generations or (4 if tiny else 8)
    env_kwargs = {"size": ns.size, "num_boxes": ns.num_boxes, "max_steps": ns.env_max_steps}
    if tiny:
        from dataclasses import replace

        from graphgpo.trl.demo import LLMDemoConfig
        from graphgpo.trl.demo.episodes import LevelSpec, make_levels
        from graphgpo.trl.demo.warm import warm_start_model

        cfg = replace(
            LLMDemoConfig().with_quick(), size=ns.size, max_steps=ns.env_max_steps, sft_levels=ns.warm_start_levels
        )
        spec = LevelSpec(ns.size, ns.num_boxes, cfg.min_distance, min(cfg.max_distance, ns.env_max_steps))
        print(f"warm start: supervised fine-tuning on {ns.warm_start_levels} noisy solutions ...", flush=True)
        model, tokenizer, losses, _ = warm_start_model(cfg, make_levels(spec, range(ns.warm_start_levels)))
        print(f"warm start: loss {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} steps", flush=True)
        # Levels the warm start never saw; boards without the outer wall, as in the warm start.
        dataset = Dataset.from_dict({"level": make_levels(spec, range(10**6, 10**6 + ns.levels))})
        env_kwargs["border"] = False
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        prompt = [
            {"role": "user", "content": "Solve this Sokoban level by calling the move tool, one move per call.\n"}
        ]
        dataset = Dataset.from_dict({"prompt": [prompt] * ns.levels, "seed": list(range(ns.levels))})
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
        max_completion_length=ns.max_completion_length or (512 if tiny else 1024),
        max_tool_calling_iterations=ns.env_max_steps + 1,
        # A tool call is ~10 tokens: cap each turn, so a turn that rambles cannot use the whole budget.
        generation_kwargs={"max_new_tokens": 32} if tiny else None,
        # At temperature 1 the briefly warm-started model garbles about a third of its calls.
        temperature=0.7 if tiny else 1.0,
        learning_rate=ns.learning_rate or (1e-4 if tiny else 1e-6),
        use_cpu=on_cpu,
        bf16=not on_cpu,
        activation_checkpointing=not tiny,  # recomputing a tiny model's activations only costs time
        # beta=0 (TRL's default) keeps the reference model out: a model built in-process has no path
        # to reload it from.
        beta=0.0,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
    )
    return model, tokenizer, config, dataset, env_kwargs


def main(argv=None) -> int:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    ns = parse_args(argv)
    if ns.tiny:
        # Nothing to download in tiny mode; make sure nothing tries.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

    import torch

    from graphgpo.envs import SokobanEnvironment
    from graphgpo.trl import GraphGPOTrainer

    if not torch.cuda.is_available():
        torch.set_num_threads(ns.threads or 1)
    elif ns.threads:
        torch.set_num_threads(ns.threads)
    model, tokenizer, config, dataset, env_kwargs = build(ns)
    trainer = GraphGPOTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        # The environment's get_reward (1 when solved) is the reward; its trace feeds the graph.
        environment_factory=lambda: SokobanEnvironment(**env_kwargs),
    )
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "graph/success_rate" in entry]
    if logged:
        last = logged[-1]
        keys = [
            "reward",
            "tools/call_frequency",
            "graph/success_rate",
            "graph/steps_per_episode",
            "graph/mean_nodes_per_group",
            "advantages/token_mean",
            "advantages/token_std",
        ]
        print("last step: " + ", ".join(f"{k}={last[k]:.4g}" for k in keys if k in last))
    return 0


if __name__ == "__main__":
    sys.exit(main())
