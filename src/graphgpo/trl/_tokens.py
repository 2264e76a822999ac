"""Turn segmentation of a TRL completion and the per-token advantage layout.

A multi-turn TRL completion is one token row: the model's turns (``tool_mask == 1``) alternate with the
tool results and chat-template glue that TRL splices in (``tool_mask == 0``), followed by right padding
(``completion_mask == 0``). An *action segment* is a maximal run of tokens with ``completion_mask == 1``
and ``tool_mask == 1``; segment ``j`` is the model's ``j``-th turn, which owns the environment steps its
tool calls made.

Nothing here needs torch: the logic works on numpy arrays and plain sequences, so it is testable
without a model; the trainer turns the final array into a tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["batch_action_segments", "action_segments", "assign_steps", "segment_values", "layout_advantages"]


def batch_action_segments(completion_mask, tool_mask=None) -> list[list[tuple[int, int]]]:
    """Half-open ``(start, end)`` token spans of the model's turns, per row of a ``(B, T)`` batch.

    A token belongs to a turn when ``completion_mask`` is 1 and (if given) ``tool_mask`` is 1, so
    padding and tool results both split turns; a fully masked row (e.g. ``mask_truncated_completions``)
    has no segments. Vectorised: the cost is one pass over the masks plus one step per segment.
    """
    on = np.asarray(completion_mask).astype(bool)
    if on.ndim != 2:
        raise ValueError(f"completion_mask must be (B, T), got shape {on.shape}")
    if tool_mask is not None:
        tool = np.asarray(tool_mask).astype(bool)
        if tool.shape != on.shape:
            raise ValueError(f"tool_mask has shape {tool.shape} but completion_mask has {on.shape}")
        on = on & tool
    batch, length = on.shape
    edges = np.diff(np.pad(on.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    # Starts and ends come out row-major and alternate within a row, so they pair up in order.
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    out: list[list[tuple[int, int]]] = [[] for _ in range(batch)]
    for r, start, end in zip(rows.tolist(), starts.tolist(), ends.tolist(), strict=True):
        out[r].append((start, end))
    return out


def action_segments(
    completion_mask: Sequence[int], tool_mask: Sequence[int] | None = None
) -> list[tuple[int, int]]:
    """:func:`batch_action_segments` of one row."""
    if tool_mask is not None and len(tool_mask) != len(completion_mask):
        raise ValueError(
            f"tool_mask has {len(tool_mask)} tokens but completion_mask has {len(completion_mask)}"
        )
    return batch_action_segments([list(completion_mask)], None if tool_mask is None else [list(tool_mask)])[0]


def assign_steps(num_segments: int, num_steps: int) -> list[range]:
    """One step per turn, in order (turns with a `rollout_func`, or when the tool calls were not watched).

    Turn ``j`` owns step ``j``; a turn beyond the last step (a final answer) owns an empty range. Steps
    left over after the last turn belong to no turn: they stay in the graph but carry no tokens. With
    an ``environment_factory`` the trainer knows each turn's steps exactly (``graphgpo.trl._calls``).
    """
    if num_segments < 0 or num_steps < 0:
        raise ValueError("num_segments and num_steps must be non-negative")
    return [range(j, j + 1) if j < num_steps else range(num_steps, num_steps) for j in range(num_segments)]


def segment_values(
    step_advantages: Sequence[float], owned: Sequence[Sequence[int]], text_value: float
) -> list[float]:
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


def layout_advantages(
    shape: tuple[int, int], spans: Sequence[Sequence[tuple[int, int]]], values: Sequence[Sequence[float]]
) -> np.ndarray:
    """A float32 ``(B, T)`` array with ``values[b][j]`` on every token of ``spans[b][j]`` and 0 elsewhere.

    Tokens outside every span (tool results, chat glue, padding, fully masked rows) are exactly 0, so
    they add nothing to the loss even where a mask upstream is looser than ours.
    """
    batch, length = shape
    if len(spans) != batch or len(values) != batch:
        raise ValueError(f"expected {batch} rows of spans and values, got {len(spans)} and {len(values)}")
    out = np.zeros(shape, dtype=np.float32)
    for b in range(batch):
        if len(spans[b]) != len(values[b]):
            raise ValueError(f"row {b}: {len(spans[b])} segments but {len(values[b])} values")
        for (start, end), value in zip(spans[b], values[b], strict=True):
            if not 0 <= start <= end <= length:
                raise ValueError(f"row {b}: span {(start, end)} outside [0, {length}]")
            out[b, start:end] = value
    return out
