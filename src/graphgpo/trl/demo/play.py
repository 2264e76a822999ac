"""Play of a list of levels: the evaluation of the LLM demo (success on held-out levels).

Episodes are laid out in tokens as TRL's tool loop lays them out (:class:`.episodes.EpisodeFormat`), and
completions are parsed with TRL's own ``parse_response``; a call that is not ``move(direction=...)`` gets
the error text TRL would give it and makes no step. Greedy decoding, or sampling with a fixed seed, makes
the result a property of the model and the levels alone. Levels are played in batches, turn by turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...envs import SokobanEnvironment
from .episodes import EpisodeFormat

__all__ = ["PlayResult", "play", "random_success"]


@dataclass
class PlayResult:
    """One level's greedy episode: solved or not, environment steps, tool calls, failed calls."""

    success: bool
    steps: int
    calls: int
    failed_calls: int


def _generate(
    model, sequences: list[list[int]], pad_id: int, eos_id: int, max_new_tokens: int, temperature: float = 0.0
) -> list[list[int]]:
    """Continuations of ``sequences`` (left-padded into one batch), each cut after its first EOS: greedy, or
    sampled at ``temperature`` when it is positive."""
    import torch

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, width - len(s) :] = torch.tensor(s)
        mask[i, width - len(s) :] = 1
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=max_new_tokens,
        **({"do_sample": True, "temperature": temperature, "top_k": 0} if temperature > 0 else {"do_sample": False}),
        pad_token_id=pad_id,
        eos_token_id=eos_id,
    )
    new = out[:, width:].tolist()
    return [row[: row.index(eos_id) + 1] if eos_id in row else row for row in new]


def _run_calls(env: SokobanEnvironment, calls: list[dict]) -> tuple[list[str], int]:
    """Each call's result text, as TRL would produce it, and how many calls failed."""
    results, failed = [], 0
    for call in calls:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        arguments = function.get("arguments")
        if function.get("name") == "move" and isinstance(arguments, dict) and set(arguments) == {"direction"}:
            results.append(env.move(arguments["direction"]))
        else:
            failed += 1
            results.append(str({"error": f"bad call {function.get('name')!r}"}))
    return results, failed


def play(
    model,
    fmt: EpisodeFormat,
    boards: Sequence[str],
    *,
    env_factory,
    max_turns: int,
    max_new_tokens: int = 32,
    batch_size: int = 64,
    temperature: float = 0.0,
    seed: int = 0,
) -> list[PlayResult]:
    """Play every board for at most ``max_turns`` model turns, greedily (``temperature`` 0) or sampling at
    ``temperature`` (torch's RNG seeded with ``seed`` inside, the caller's left untouched); an episode ends
    when the model answers without a tool call or the environment's episode is over."""
    import torch
    from trl.chat_template_utils import add_response_schema, parse_response

    tok = fmt.tokenizer
    if getattr(tok, "response_template", None) is None and getattr(tok, "response_schema", None) is None:
        tok = add_response_schema(tok)
    results: list[PlayResult] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for start in range(0, len(boards), batch_size):
                results += _play_batch(
                    model,
                    fmt,
                    tok,
                    boards[start : start + batch_size],
                    env_factory,
                    max_turns,
                    max_new_tokens,
                    parse_response,
                    temperature,
                )
    finally:
        model.train(was_training)
    return results


def _play_batch(model, fmt, tok, boards, env_factory, max_turns, max_new_tokens, parse_response, temperature):
    envs = [env_factory() for _ in boards]
    seqs = [fmt.prompt_ids(env.reset(level=b)) for env, b in zip(envs, boards, strict=True)]
    calls = [0] * len(boards)
    failed = [0] * len(boards)
    active = list(range(len(boards)))
    for _ in range(max_turns):
        if not active:
            break
        new = _generate(
            model, [seqs[i] for i in active], tok.pad_token_id, tok.eos_token_id, max_new_tokens, temperature
        )
        still = []
        for i, ids in zip(active, new, strict=True):
            message = parse_response(tok, ids, prefix=seqs[i], tools=fmt.tools) if ids else {}
            tool_calls = message.get("tool_calls") or []
            seqs[i] = seqs[i] + ids
            if not tool_calls or ids[-1:] != [tok.eos_token_id]:
                continue  # a final answer (or a turn cut by the token limit) ends the episode
            texts, bad = _run_calls(envs[i], tool_calls)
            calls[i] += len(tool_calls)
            failed[i] += bad
            seqs[i] = seqs[i] + fmt.result_ids(*texts)
            if not envs[i].done:
                still.append(i)
        active = still
    return [
        PlayResult(bool(env.graphgpo_success), len(env.graphgpo_trace), calls[i], failed[i])
        for i, env in enumerate(envs)
    ]


def random_success(boards: Sequence[str], env_factory, *, repeats: int = 16, seed: int = 0) -> float:
    """Share of episodes a uniformly random mover solves on ``boards`` (``repeats`` episodes each): the
    floor a policy that ignores the board would reach, to read the model's success against."""
    import random

    rng = random.Random(seed)
    directions = ("up", "down", "left", "right")
    solved = 0
    for board in boards:
        for _ in range(repeats):
            env = env_factory()
            env.reset(level=board)
            while not env.done:
                env.move(rng.choice(directions))
            solved += bool(env.graphgpo_success)
    return solved / (len(boards) * repeats)
