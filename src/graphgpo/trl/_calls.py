"""Which steps of an environment's trace each assistant turn owns, from the tool calls that really ran.

TRL counts every tool call the model writes, but only the calls that reach a tool method can make the
environment step: an unknown tool name, a wrong argument, or a call TRL never runs (the iteration limit)
records nothing. Counting calls per turn would then hand every later turn the next turn's step. So the
trainer wraps each rollout's tool methods for the duration of TRL's tool loop, and each call notes the
assistant message that made it and the trace steps it appended (the trace length before and after).
The rule, documented for users in ``GraphGPOTrainer``:

- a turn owns exactly the trace steps its own calls appended, in trace order; a failed call owns none;
- a trace step that no call appended (the environment recorded it outside a tool method, or did not
  clear its trace in ``reset``) is *unattributed*: it stays in the graph, carries no tokens, and the
  trainer warns and logs ``graph/unattributed_steps``, because the trace no longer matches the turns.

Nothing here imports TRL or torch.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass

__all__ = ["CallLog", "record_tool_calls", "TurnSteps", "turn_steps"]


@dataclass(frozen=True)
class CallLog:
    """One tool call that reached a tool method: the index of the assistant message that made it in the
    rollout's message list, and the trace length before and after it ran (whether it returned or raised)."""

    message: int
    before: int
    after: int


def _trace_length(environment, trace_key: str) -> int:
    trace = getattr(environment, trace_key, None)
    return 0 if trace is None else len(trace)


def _recorder(tool: Callable, environment, messages: list, log: list[CallLog], trace_key: str) -> Callable:
    """``tool`` with its trace effect noted in ``log``; the same result, the same exception."""
    if inspect.iscoroutinefunction(tool):

        @functools.wraps(tool)
        async def recorded_async(*args, **kwargs):
            message, before = len(messages) - 1, _trace_length(environment, trace_key)
            try:
                return await tool(*args, **kwargs)
            finally:
                log.append(CallLog(message, before, _trace_length(environment, trace_key)))

        return recorded_async

    @functools.wraps(tool)
    def recorded(*args, **kwargs):
        # TRL appends the tool results only after all calls of a turn ran, so the last message is the
        # assistant turn that made this call.
        message, before = len(messages) - 1, _trace_length(environment, trace_key)
        try:
            return tool(*args, **kwargs)
        finally:
            log.append(CallLog(message, before, _trace_length(environment, trace_key)))

    return recorded


def record_tool_calls(
    tool_dicts: Sequence[Sequence[MutableMapping[str, Callable]]],
    environments: Sequence,
    completions: Sequence[list],
    trace_key: str,
) -> list[list[CallLog]]:
    """Wrap, in place, every tool of every rollout whose environment keeps a trace; return the call logs.

    ``tool_dicts[k][i]`` maps tool names to callables for rollout ``i`` (TRL keeps one dict of sync and one
    of async tools per rollout); ``completions[i]`` is rollout ``i``'s message list, which TRL's tool loop
    extends in place. A rollout whose environment keeps no trace is left alone (its log stays empty).
    """
    logs: list[list[CallLog]] = [[] for _ in environments]
    for i, environment in enumerate(environments):
        if not hasattr(environment, trace_key):
            continue
        for dicts in tool_dicts:
            tools = dicts[i]
            for name, tool in list(tools.items()):
                tools[name] = _recorder(tool, environment, completions[i], logs[i], trace_key)
    return logs


@dataclass
class TurnSteps:
    """Step ownership of one rollout: ``owned[j]`` the trace steps of assistant turn ``j`` (in order);
    ``calls`` the tool calls the model wrote; ``calls_without_step`` those that appended no step;
    ``unattributed`` the trace steps no call appended."""

    owned: list[list[int]]
    calls: int
    calls_without_step: int
    unattributed: int


def turn_steps(messages: Sequence, log: Sequence[CallLog], trace_length: int) -> TurnSteps:
    """Which trace steps each assistant turn of ``messages`` owns, from the rollout's call ``log``."""
    turn_of: dict[int, int] = {}
    calls = 0
    for m, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
            turn_of[m] = len(turn_of)
            calls += len(message.get("tool_calls") or [])
    owned: list[list[int]] = [[] for _ in turn_of]
    stepping_calls = 0
    seen: set[int] = set()
    high = 0  # every step in `seen` is below it
    for call in log:
        # A step beyond the trace's end (the trace shrank during the episode) cannot be owned.
        steps = range(max(call.before, 0), min(call.after, trace_length))
        stepping_calls += len(steps) > 0
        turn = turn_of.get(call.message)
        if turn is None:
            continue
        if steps.start >= high:  # the usual case: calls step the trace one after the other, nothing seen yet
            owned[turn].extend(steps)
        else:
            owned[turn].extend(s for s in steps if s not in seen)
        seen.update(steps)
        high = max(high, steps.stop)
    return TurnSteps(
        owned=owned,
        calls=calls,
        calls_without_step=max(calls - stepping_calls, 0),
        unattributed=trace_length - len(seen),
    )
