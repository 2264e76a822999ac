"""Per-group state-transition graphs of a batch: sizes, CSR arrays, distances, and export to networkx / DOT."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _core
from ._api import StateKey, prepare_batch
from ._options import DEFAULT_OPTIONS, checked_options_json
from ._text import wants_texts

#: Node kinds as stored in :meth:`GraphBatch.node_kinds`.
NODE_STATE, NODE_SUCCESS, NODE_TERMINAL = 0, 1, 2


class CSR(NamedTuple):
    """Compressed sparse rows of one group: the edges of node ``v`` are ``offsets[v]:offsets[v + 1]``.

    ``nodes[k]`` is the other endpoint of the k-th edge (the target in the forward CSR, the source in the
    reverse one) and ``rows[k]`` its row in the batch.
    """

    offsets: np.ndarray
    nodes: np.ndarray
    rows: np.ndarray


class GraphBatch:
    """The graphs of every group of a batch (built by :func:`build_graphs`).

    Groups are numbered 0..num_groups-1 in order of first appearance (``group_ids`` maps back). In each
    group node 0 is SUCCESS, then the distinct states in order of first appearance, then one terminal node
    per failed trajectory without a given next state; every row is an edge.
    """

    def __init__(self, core: _core.GraphBatch, state: Any, next_state: Any, row_states: bool) -> None:
        self._core = core
        self._state = state if row_states else None
        self._next_state = next_state if row_states else None

    @property
    def num_groups(self) -> int:
        return self._core.num_groups

    @property
    def group_ids(self) -> np.ndarray:
        return self._core.group_ids()

    def sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """(nodes per group, edges per group)."""
        return self._core.group_sizes()

    def num_nodes(self, group: int) -> int:
        return len(self._core.node_kinds(group))

    def num_edges(self, group: int) -> int:
        return len(self._core.edges(group)[0])

    def distances(self, group: int) -> np.ndarray:
        """Distance to SUCCESS of every node (SPEC); unreachable nodes hold :meth:`unreachable_distance`."""
        return self._core.distances(group)

    def unreachable_distance(self, group: int) -> float:
        return self._core.unreachable_distance(group)

    def has_success(self, group: int) -> bool:
        return self._core.has_success(group)

    def node_kinds(self, group: int) -> np.ndarray:
        return self._core.node_kinds(group)

    def edges(self, group: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(source node, target node, batch row) of every edge, in row order."""
        return self._core.edges(group)

    def csr(self, group: int, reverse: bool = False) -> CSR:
        return CSR(*self._core.csr(group, reverse))

    def node_labels(self, group: int, max_chars: int = 40) -> list[str]:
        """Readable node labels: SUCCESS, TERMINAL, or the state (shortened) when states were given per row.
        A node of merged similar states (``merge="similar"``) shows its representative."""
        kinds = self.node_kinds(group)
        labels = []
        for v, (kind, origin) in enumerate(zip(kinds.tolist(), self.node_origins(group).tolist())):
            if kind == NODE_SUCCESS:
                labels.append("SUCCESS")
            elif kind == NODE_TERMINAL:
                labels.append(f"TERMINAL {v}")
            else:
                states = self._next_state if origin & 1 else self._state
                label = _short(_item(states, origin >> 1), max_chars) if states is not None else ""
                labels.append(label or f"s{v}")
        return labels

    def node_origins(self, group: int) -> np.ndarray:
        """Where each node's state (its representative, when merged) first appears: ``2 * row`` for a row's
        state, ``2 * row + 1`` for its given next state; -1 for SUCCESS and terminal nodes."""
        return self._core.node_origins(group)

    def num_exact_states(self, group: int) -> int:
        """Distinct states of the group before merging (equals the state nodes with ``merge="exact"``)."""
        return self._core.num_exact_states(group)

    def to_networkx(self, group: int, advantages: Sequence[float] | np.ndarray | None = None) -> Any:
        """A ``networkx.MultiDiGraph`` of one group: nodes carry kind, distance and label; edges carry their
        batch row and, if given (one value per batch row), their advantage. Needs ``networkx``."""
        try:
            import networkx as nx
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_networkx needs networkx: pip install networkx") from exc
        graph = nx.MultiDiGraph(group_id=int(self.group_ids[group]))
        kinds = self.node_kinds(group).tolist()
        dist = self.distances(group).tolist()
        labels = self.node_labels(group)
        kind_names = {NODE_STATE: "state", NODE_SUCCESS: "success", NODE_TERMINAL: "terminal"}
        for v, (kind, d, label) in enumerate(zip(kinds, dist, labels)):
            graph.add_node(v, kind=kind_names[kind], distance=d, label=label)
        src, dst, rows = self.edges(group)
        for s, t, r in zip(src.tolist(), dst.tolist(), rows.tolist()):
            attrs: dict[str, Any] = {"row": r}
            if advantages is not None:
                attrs["advantage"] = float(advantages[r])
            graph.add_edge(s, t, **attrs)
        return graph

    def to_dot(self, group: int, advantages: Sequence[float] | np.ndarray | None = None) -> str:
        """Graphviz DOT text of one group; with advantages, edges are colored red (<0) to green (>0)."""
        kinds = self.node_kinds(group).tolist()
        dist = self.distances(group).tolist()
        labels = self.node_labels(group)
        lines = [f"digraph group_{int(self.group_ids[group])} {{", "  rankdir=LR;", "  node [shape=box];"]
        for v, (kind, d, label) in enumerate(zip(kinds, dist, labels)):
            style = ', style=filled, fillcolor="palegreen"' if kind == NODE_SUCCESS else ""
            if kind == NODE_TERMINAL:
                style = ', style=filled, fillcolor="lightgrey"'
            lines.append(f'  n{v} [label="{_dot_escape(label)}\\nd={d:g}"{style}];')
        src, dst, rows = self.edges(group)
        scale = 1.0
        if advantages is not None:
            values = np.asarray(advantages, dtype=float)[rows]
            scale = float(np.max(np.abs(values))) if len(values) and np.max(np.abs(values)) > 0 else 1.0
        for s, t, r in zip(src.tolist(), dst.tolist(), rows.tolist()):
            if advantages is None:
                lines.append(f'  n{s} -> n{t} [label="row {r}"];')
            else:
                a = float(advantages[r])
                lines.append(f'  n{s} -> n{t} [label="{a:+.3g}", color="{_diverging_color(a / scale)}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _item(states: Any, row: int) -> Any:
    try:
        return states[row]
    except (IndexError, KeyError, TypeError):
        return None


def _short(state: Any, max_chars: int) -> str:
    if state is None:
        return ""
    if isinstance(state, bytes):
        state = state.decode("utf-8", errors="replace")
    text = " ".join(str(state).split())
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _diverging_color(x: float) -> str:
    """Red for -1, grey for 0, green for +1, as #rrggbb."""
    x = max(-1.0, min(1.0, x))
    grey = np.array([160, 160, 160])
    end = np.array([0, 160, 0]) if x > 0 else np.array([210, 0, 0])
    rgb = (grey + (end - grey) * abs(x)).astype(int)
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def build_graphs(*, group, trajectory, state, success, next_state=None, cost=None, action=None,
                 key: StateKey | None = None, num_threads: int | None = None,
                 distance: str = DEFAULT_OPTIONS["distance"], merge: str = DEFAULT_OPTIONS["merge"],
                 similarity: float = DEFAULT_OPTIONS["similarity"], **ignored: Any) -> GraphBatch:
    """Build every group's state-transition graph and its distances to success (SPEC "Graph and distance").

    Takes the same row fields as :func:`graphgpo.advantages` (``valid`` and ``reward`` are accepted and
    ignored, as are estimator options other than ``distance``, ``merge`` and ``similarity``). With
    ``merge="similar"`` the nodes are the representatives of similar text states, as graphgpo sees them.
    """
    unknown = set(ignored) - {"valid", "reward"} - set(DEFAULT_OPTIONS)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)}")
    options = {"distance": distance, "merge": merge, "similarity": similarity}
    encoded = checked_options_json(options, num_threads)
    batch = prepare_batch(group=group, trajectory=trajectory, state=state, success=success,
                          next_state=next_state, cost=cost, action=action, key=key, num_threads=num_threads,
                          texts=wants_texts(options))
    core = _core.build_graphs(batch.group, batch.trajectory, batch.state, batch.next_state, batch.success,
                              batch.cost, batch.action, encoded, batch.state_text, batch.next_state_text)
    row_states = key is None and not isinstance(state, np.ndarray) or (
        isinstance(state, np.ndarray) and state.ndim == 1 and state.dtype.kind in "iuUSO")
    if batch.state_text is not None:  # the texts that were compared (the key's results, if any)
        return GraphBatch(core, batch.state_text, batch.next_state_text, True)
    return GraphBatch(core, state, next_state, row_states)
