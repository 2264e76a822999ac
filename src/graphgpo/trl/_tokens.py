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

__all__ = [
    "action_spans",
    "batch_action_segments",
    "action_segments",
    "assign_steps",
    "segment_values",
    "layout_advantages",
    "turn_advantages",
]


def action_spans(completion_mask, tool_mask=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's turns in a ``(B, T)`` batch as three int64 arrays, one entry per turn in row-major
    order: its row, first token and end token (half-open). :func:`batch_action_segments` as arrays."""
    on = np.asarray(completion_mask).astype(bool)
    if on.ndim != 2:
        raise ValueError(f"completion_mask must be (B, T), got shape {on.shape}")
    if tool_mask is not None:
        tool = np.asarray(tool_mask).astype(bool)
        if tool.shape != on.shape:
            raise ValueError(f"tool_mask has shape {tool.shape} but completion_mask has {on.shape}")
        on = on & tool
    edges = np.diff(np.pad(on.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    # Starts and ends come out row-major and alternate within a row, so they pair up in order.
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return rows.astype(np.int64), starts.astype(np.int64), ends.astype(np.int64)


def batch_action_segments(completion_mask, tool_mask=None) -> list[list[tuple[int, int]]]:
    """Half-open ``(start, end)`` token spans of the model's turns, per row of a ``(B, T)`` batch.

    A token belongs to a turn when ``completion_mask`` is 1 and (if given) ``tool_mask`` is 1, so
    padding and tool results both split turns; a fully masked row (e.g. ``mask_truncated_completions``)
    has no segments. Vectorised: the cost is one pass over the masks plus one step per segment.
    """
    rows, starts, ends = action_spans(completion_mask, tool_mask)
    batch = np.shape(completion_mask)[0]
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


def turn_advantages(
    shape: tuple[int, int],
    spans: tuple[np.ndarray, np.ndarray, np.ndarray],
    step_advantages: np.ndarray,
    first_step: np.ndarray,
    num_steps: np.ndarray,
    owned: Sequence[Sequence[Sequence[int]] | None],
    text_values: np.ndarray,
) -> tuple[np.ndarray, int]:
    """:func:`segment_values` and :func:`layout_advantages` for a whole batch at once, with the same numbers.

    ``spans``: :func:`action_spans` of the ``(B, T)`` masks; ``step_advantages``: the rows' advantages, row
    ``b``'s steps being ``step_advantages[first_step[b] : first_step[b] + num_steps[b]]``; ``owned[b]``: the
    steps each turn of row ``b`` owns (turns past the list own none), or None for one step per turn in order
    (:func:`assign_steps`); ``text_values[b]``: the value of row ``b``'s turns that own no step. Returns
    the float32 ``(B, T)`` advantages and how many steps a turn owns (the others carry no tokens).
    """
    batch, length = shape
    rows, starts, ends = spans
    num_segments = np.bincount(rows, minlength=batch)
    first_segment = np.cumsum(num_segments) - num_segments
    # (segment, step) ownership pairs, each segment's steps in order: rows that take one step per turn at
    # once, then the others from their lists.
    in_order = np.array([b for b in range(batch) if owned[b] is None], dtype=np.int64)
    taken = np.minimum(num_segments[in_order], num_steps[in_order])
    which = np.repeat(np.arange(len(in_order)), taken)
    within = np.arange(int(taken.sum())) - np.repeat(np.cumsum(taken) - taken, taken)
    segment_parts = [first_segment[in_order][which] + within]
    step_parts = [first_step[in_order][which] + within]
    listed_segments: list[int] = []
    listed_steps: list[int] = []
    segment_at, step_at, segments_of = first_segment.tolist(), np.asarray(first_step).tolist(), num_segments.tolist()
    for b, turns in enumerate(owned):
        if turns is None:
            continue
        segment0, step0 = segment_at[b], step_at[b]
        for j, steps in enumerate(turns[: segments_of[b]]):
            if len(steps) == 1:  # the common case, without the list building below
                listed_segments.append(segment0 + j)
                listed_steps.append(step0 + steps[0])
            else:
                listed_segments += [segment0 + j] * len(steps)
                listed_steps += [step0 + s for s in steps]
    segment_parts.append(np.asarray(listed_segments, dtype=np.int64))
    step_parts.append(np.asarray(listed_steps, dtype=np.int64))
    segment = np.concatenate(segment_parts)
    step = np.concatenate(step_parts)
    # bincount adds in input order, as segment_values' sum does, so the means are the same bits.
    total = np.bincount(segment, weights=np.asarray(step_advantages, dtype=np.float64)[step], minlength=len(rows))
    count = np.bincount(segment, minlength=len(rows))
    text = np.asarray(text_values, dtype=np.float64)[rows]
    values = np.where(count > 0, total / np.maximum(count, 1), text)

    out = np.zeros(shape, dtype=np.float32)
    if len(rows) and (starts.min() < 0 or ends.max() > length or np.any(starts > ends)):
        raise ValueError(f"a span lies outside [0, {length}]")
    widths = ends - starts
    token_segment = np.repeat(np.arange(len(rows)), widths)
    offset = np.arange(len(token_segment)) - np.repeat(np.cumsum(widths) - widths, widths)
    out.reshape(-1)[rows[token_segment] * length + starts[token_segment] + offset] = values[token_segment]
    return out, len(step)
