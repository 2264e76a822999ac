"""Per-group state-transition graphs of a batch: sizes, CSR arrays, distances, and export to networkx / DOT."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from . import _core
from ._api import StateKey, prepare_batch
from ._inputs import text_ids, to_numpy
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

    Every method takes a group by its id, as passed to :func:`build_graphs` (``graphs.to_dot(7)`` for the
    rows with ``group == 7``; a str id such as verl's ``uid`` works the same way). :attr:`group_ids` lists
    them in order of first appearance. In each group node 0 is SUCCESS, then the distinct states in order of
    first appearance, then one terminal node per failed trajectory without a next state; every row is an
    edge.
    """

    def __init__(self, core: _core.GraphBatch, state: Any, next_state: Any, row_states: bool, num_rows: int,
                 group_ids: np.ndarray) -> None:
        self._core = core
        self._state = state if row_states else None
        self._next_state = next_state if row_states else None
        self._num_rows = num_rows
        self._group_ids = group_ids
        self._index = {int(k): g for g, k in enumerate(core.group_ids().tolist())}

    @property
    def num_groups(self) -> int:
        return self._core.num_groups

    @property
    def num_rows(self) -> int:
        """Rows of the batch (every row is one edge of its group's graph)."""
        return self._num_rows

    @property
    def group_ids(self) -> np.ndarray:
        """The group ids in order of first appearance: int64, or the strings themselves for str/bytes ids."""
        return self._group_ids

    def __contains__(self, group: Any) -> bool:
        try:
            self._group_index(group)
        except (ValueError, TypeError):
            return False
        return True

    def __repr__(self) -> str:
        nodes, edges = self.sizes()
        shown = ", ".join(repr(g.item() if isinstance(g, np.generic) else g) for g in self._group_ids[:5])
        more = ", ..." if self.num_groups > 5 else ""
        plural = "" if self.num_groups == 1 else "s"
        return (f"GraphBatch({self.num_groups} group{plural} [{shown}{more}], {self._num_rows} rows, "
                f"{int(nodes.sum())} nodes)")

    def _group_index(self, group: Any) -> int:
        """The engine's dense index of a group id."""
        if isinstance(group, (str, bytes)):
            key = int(text_ids([group])[0])
        elif isinstance(group, (int, np.integer)) and not isinstance(group, (bool, np.bool_)):
            key = int(group)
        else:
            raise TypeError(f"group must be a group id (int or str) as passed to build_graphs, got {group!r}")
        index = self._index.get(key)
        if index is None:
            shown = ", ".join(repr(g.item() if isinstance(g, np.generic) else g) for g in self._group_ids[:5])
            more = ", ..." if self.num_groups > 5 else ""
            raise ValueError(f"group {group!r} is not in this batch (its group ids: {shown}{more})")
        return index

    def sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """(nodes per group, edges per group), in the order of :attr:`group_ids`."""
        return self._core.group_sizes()

    def num_nodes(self, group: Any) -> int:
        return len(self._core.node_kinds(self._group_index(group)))

    def num_edges(self, group: Any) -> int:
        return len(self._core.edges(self._group_index(group))[0])

    def distances(self, group: Any) -> np.ndarray:
        """Distance to SUCCESS of every node (SPEC); unreachable nodes hold :meth:`unreachable_distance`."""
        return self._core.distances(self._group_index(group))

    def unreachable_distance(self, group: Any) -> float:
        return self._core.unreachable_distance(self._group_index(group))

    def has_success(self, group: Any) -> bool:
        return self._core.has_success(self._group_index(group))

    def node_kinds(self, group: Any) -> np.ndarray:
        """Kind of every node: :data:`NODE_STATE`, :data:`NODE_SUCCESS` or :data:`NODE_TERMINAL`."""
        return self._core.node_kinds(self._group_index(group))

    def edges(self, group: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(source node, target node, batch row) of every edge, in row order."""
        return self._core.edges(self._group_index(group))

    def csr(self, group: Any, reverse: bool = False) -> CSR:
        return CSR(*self._core.csr(self._group_index(group), reverse))

    def node_labels(self, group: Any, max_chars: int = 40) -> list[str]:
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

    def node_origins(self, group: Any) -> np.ndarray:
        """Where each node's state (its representative, when merged) first appears: ``2 * row`` for a row's
        state, ``2 * row + 1`` for its given next state; -1 for SUCCESS and terminal nodes. (A row without a
        next state leads to row + 1's state, ``2 * (row + 1)``.)"""
        return self._core.node_origins(self._group_index(group))

    def num_exact_states(self, group: Any) -> int:
        """Distinct states of the group before merging (equals the state nodes with ``merge="exact"``)."""
        return self._core.num_exact_states(self._group_index(group))

    def _row_values(self, advantages: Sequence[float] | np.ndarray) -> np.ndarray:
        """Advantages as one float per batch row; anything else means they came from other rows."""
        values = np.asarray(to_numpy(advantages, "advantages"), dtype=np.float64)
        if values.ndim != 1 or len(values) != self._num_rows:
            raise ValueError(
                f"advantages has shape {values.shape} but this batch has {self._num_rows} rows: pass the "
                "advantages computed on the same rows (including next_state) as build_graphs")
        return values

    def to_networkx(self, group: Any, advantages: Sequence[float] | np.ndarray | None = None) -> Any:
        """A ``networkx.MultiDiGraph`` of one group: nodes carry kind, distance and label; edges carry their
        batch row and, if given (one value per batch row, from the same rows), their advantage. Needs
        ``networkx``."""
        try:
            import networkx as nx
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_networkx needs networkx: pip install networkx") from exc
        values = None if advantages is None else self._row_values(advantages)
        graph = nx.MultiDiGraph(group_id=_plain(self._group_ids[self._group_index(group)]))
        kinds = self.node_kinds(group).tolist()
        dist = self.distances(group).tolist()
        labels = self.node_labels(group)
        kind_names = {NODE_STATE: "state", NODE_SUCCESS: "success", NODE_TERMINAL: "terminal"}
        for v, (kind, d, label) in enumerate(zip(kinds, dist, labels)):
            graph.add_node(v, kind=kind_names[kind], distance=d, label=label)
        src, dst, rows = self.edges(group)
        for s, t, r in zip(src.tolist(), dst.tolist(), rows.tolist()):
            attrs: dict[str, Any] = {"row": r}
            if values is not None:
                attrs["advantage"] = float(values[r])
            graph.add_edge(s, t, **attrs)
        return graph

    def to_dot(self, group: Any, advantages: Sequence[float] | np.ndarray | None = None) -> str:
        """Graphviz DOT text of one group; with advantages (one per batch row, from the same rows), edges are
        labelled with them and colored red (<0) to green (>0)."""
        values = None if advantages is None else self._row_values(advantages)
        kinds = self.node_kinds(group).tolist()
        dist = self.distances(group).tolist()
        labels = self.node_labels(group)
        title = _dot_escape(f"group {_plain(self._group_ids[self._group_index(group)])}")
        lines = [f'digraph "{title}" {{', "  rankdir=LR;", "  node [shape=box];"]
        for v, (kind, d, label) in enumerate(zip(kinds, dist, labels)):
            style = ', style=filled, fillcolor="palegreen"' if kind == NODE_SUCCESS else ""
            if kind == NODE_TERMINAL:
                style = ', style=filled, fillcolor="lightgrey"'
            lines.append(f'  n{v} [label="{_dot_escape(label)}\\nd={d:g}"{style}];')
        src, dst, rows = self.edges(group)
        scale = 1.0
        if values is not None and len(rows):
            largest = float(np.max(np.abs(values[rows])))
            scale = largest if largest > 0 else 1.0
        for s, t, r in zip(src.tolist(), dst.tolist(), rows.tolist()):
            if values is None:
                lines.append(f'  n{s} -> n{t} [label="row {r}"];')
            else:
                a = float(values[r])
                lines.append(f'  n{s} -> n{t} [label="{a:+.3g}", color="{_diverging_color(a / scale)}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (for labels and attributes)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return value


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
    group_ids = _group_ids_as_passed(group, batch.group, core.group_ids())
    if batch.state_text is not None:  # the texts that were compared (the key's results, if any)
        return GraphBatch(core, batch.state_text, batch.next_state_text, True, batch.num_rows, group_ids)
    return GraphBatch(core, state, next_state, row_states, batch.num_rows, group_ids)


def _group_ids_as_passed(raw: Any, ids: np.ndarray, dense_ids: np.ndarray) -> np.ndarray:
    """The engine's group ids (int64), or for str/bytes ids the strings they were hashed from."""
    raw = to_numpy(raw, "group")
    first = raw[0] if len(ids) else None
    if not isinstance(first, (str, bytes, np.str_, np.bytes_)):
        return dense_ids
    _, first_rows = np.unique(ids, return_index=True)
    first_row_of = dict(zip(ids[first_rows].tolist(), first_rows.tolist()))
    out = np.empty(len(dense_ids), dtype=object)
    for g, key in enumerate(dense_ids.tolist()):
        value = raw[first_row_of[key]]
        out[g] = value.item() if isinstance(value, np.generic) else value
    return out
