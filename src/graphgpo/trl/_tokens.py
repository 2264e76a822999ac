"""Turn segmentation of a TRL completion and the per-token advantage layout.

A multi-turn TRL completion is one token row: the model's turns (``tool_mask == 1``) alternate with the
tool results and chat-template glue that TRL splices in (``tool_mask == 0``), followed by right padding
(``completion_mask == 0``). An *action segment* is a maximal run of tokens with ``completion_mask == 1``
and ``tool_mask == 1``; segment ``j`` is the model's ``j``-th turn, and the tool calls it emitted are the
environment steps ``j`` (one call per turn) or the next ``k_j`` steps (``k_j`` parallel calls).

Nothing here imports torch at module level: the logic works on plain sequences so it is testable
without a model, and :func:`layout_advantages` builds the tensor at the end.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["action_segments", "assign_steps", "segment_values", "layout_advantages"]


def action_segments(completion_mask: Sequence[int], tool_mask: Sequence[int] | None = None) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` token spans of the model's turns, in order.

    A token belongs to a turn when ``completion_mask`` is 1 and (if given) ``tool_mask`` is 1. Padding and
    tool results therefore both split turns; a fully masked row (e.g. ``mask_truncated_completions``) has
    no segments.
    """
    spans: list[tuple[int, int]] = []
    start = None
    n = len(completion_mask)
    if tool_mask is not None and len(tool_mask) != n:
        raise ValueError(f"tool_mask has {len(tool_mask)} tokens but completion_mask has {n}")
    for t in range(n):
        on = bool(completion_mask[t]) and (tool_mask is None or bool(tool_mask[t]))
        if on and start is None:
            start = t
        elif not on and start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, n))
    return spans


def assign_steps(num_segments: int, num_steps: int, calls_per_turn: Sequence[int] | None = None) -> list[range]:
    """The environment steps each turn owns.

    Steps are handed out in order: turn ``j`` takes the next ``calls_per_turn[j]`` steps (1 when the counts
    are unknown or the list is shorter than the number of turns). A turn left without steps (a final
    answer, a turn cut by the length limit, calls that never ran) owns an empty range. Steps left over
    after the last turn (a call whose turn is not in the tokens) belong to no turn: they stay in the graph
    but carry no tokens.
    """
    if num_segments < 0 or num_steps < 0:
        raise ValueError("num_segments and num_steps must be non-negative")
    out: list[range] = []
    cursor = 0
    for j in range(num_segments):
        want = 1 if calls_per_turn is None or j >= len(calls_per_turn) else int(calls_per_turn[j])
        if want < 0:
            raise ValueError(f"calls_per_turn[{j}] = {want} is negative")
        take = min(want, num_steps - cursor)
        out.append(range(cursor, cursor + take))
        cursor += take
    return out


def segment_values(step_advantages: Sequence[float], owned: Sequence[range], text_value: float) -> list[float]:
    """One advantage per turn: the mean over the steps it owns, ``text_value`` for a turn with none.

    A turn with several parallel tool calls gets the mean of their advantages, so the turn's total
    credit does not grow with the number of calls it packed together.
    """
    out = []
    for steps in owned:
        if len(steps) == 0:
            out.append(float(text_value))
        else:
            out.append(sum(float(step_advantages[i]) for i in steps) / len(steps))
    return out


def layout_advantages(shape: tuple[int, int], spans: Sequence[Sequence[tuple[int, int]]],
                      values: Sequence[Sequence[float]], *, device=None, dtype=None):
    """A ``(B, T)`` tensor with ``values[b][j]`` on every token of ``spans[b][j]`` and 0 elsewhere.

    Tokens outside every span (tool results, chat glue, padding, fully masked rows) are exactly 0, so
    they add nothing to the loss even where a mask upstream is looser than ours.
    """
    import torch

    batch, length = shape
    if len(spans) != batch or len(values) != batch:
        raise ValueError(f"expected {batch} rows of spans and values, got {len(spans)} and {len(values)}")
    out = torch.zeros(shape, dtype=dtype or torch.float32)
    for b in range(batch):
        if len(spans[b]) != len(values[b]):
            raise ValueError(f"row {b}: {len(spans[b])} segments but {len(values[b])} values")
        for (start, end), value in zip(spans[b], values[b], strict=True):
            if not 0 <= start <= end <= length:
                raise ValueError(f"row {b}: span {(start, end)} outside [0, {length}]")
            out[b, start:end] = value
    return out if device is None else out.to(device)
