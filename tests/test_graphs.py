"""Graph build, CSR layout, distances, export and diagnostics."""

import numpy as np
import pytest
from hypothesis import given, settings

import graphgpo
from graphgpo.graph import NODE_STATE, NODE_SUCCESS, NODE_TERMINAL
from graphgpo.testing.reference import SUCCESS, next_nodes, reference_distances
from graphgpo.testing.spec_examples import EXAMPLE_1
from graphgpo.testing.strategies import batches


@settings(max_examples=150, deadline=None)
@given(batch=batches(with_action=True, next_state_gaps=True))
def test_graphs_match_reference(batch):
    """Node count, edge endpoints and distances per group agree with the reference graph."""
    graphs = graphgpo.build_graphs(**batch)
    ref = reference_distances(**{k: batch[k] for k in ("group", "trajectory", "state", "success", "next_state",
                                                       "cost", "action")})
    nxt = next_nodes(batch["state"], batch["next_state"], batch["success"], batch["trajectory"])
    assert [int(g) for g in graphs.group_ids] == list(ref)
    for g, dist in ref.items():  # methods take the group id, as passed
        gid = g
        assert graphs.num_nodes(g) == len(dist) + (0 if SUCCESS in dist else 1)
        src, dst, rows = graphs.edges(g)
        rows_of_group = [i for i, x in enumerate(batch["group"]) if x == gid]
        assert rows.tolist() == rows_of_group
        engine_dist = graphs.distances(g)
        for s, t, r in zip(src.tolist(), dst.tolist(), rows.tolist()):
            assert engine_dist[s] == pytest.approx(dist[batch["state"][r]], rel=1e-12)
            assert engine_dist[t] == pytest.approx(dist[nxt[r]], rel=1e-12)
            assert (t == 0) == (nxt[r] is SUCCESS)
        # CSR: forward and reverse list every edge once, grouped by endpoint, ascending within a node.
        for reverse, endpoint, other in ((False, src, dst), (True, dst, src)):
            csr = graphs.csr(g, reverse=reverse)
            assert csr.offsets[0] == 0 and csr.offsets[-1] == len(rows)
            for v in range(graphs.num_nodes(g)):
                k = slice(csr.offsets[v], csr.offsets[v + 1])
                mine = np.flatnonzero(endpoint == v)
                assert csr.rows[k].tolist() == rows[mine].tolist()
                assert csr.nodes[k].tolist() == other[mine].tolist()


def test_node_layout_of_example_1():
    graphs = graphgpo.build_graphs(**EXAMPLE_1)
    assert graphs.num_groups == 1 and graphs.num_nodes(0) == 5 and graphs.num_edges(0) == 9
    assert graphs.node_labels(0) == ["SUCCESS", "A", "B", "C", "D"]
    assert graphs.distances(0).tolist() == [0, 2, 2, 1, 3]
    assert graphs.node_kinds(0).tolist() == [NODE_SUCCESS] + [NODE_STATE] * 4


def test_terminal_nodes_and_unreachable_distance():
    batch = {"group": [0] * 5, "trajectory": [0, 0, 1, 1, 2], "state": ["a", "b", "a", "c", "a"],
             "success": [1, 1, 0, 0, 0]}
    graphs = graphgpo.build_graphs(**batch)
    kinds = graphs.node_kinds(0).tolist()
    assert kinds.count(NODE_TERMINAL) == 2  # trajectories 1 and 2 end in their own terminal
    dist = dict(zip(graphs.node_labels(0), graphs.distances(0).tolist()))
    assert dist["a"] == 2 and dist["b"] == 1 and graphs.unreachable_distance(0) == 3
    assert dist["c"] == 3 and all(dist[k] == 3 for k in dist if k.startswith("TERMINAL"))


def test_group_without_success_has_distance_one():
    graphs = graphgpo.build_graphs(group=[0, 0], trajectory=[0, 0], state=["a", "b"], success=[0, 0])
    assert graphs.distances(0).tolist() == [1, 1, 1, 1] and not graphs.has_success(0)


def test_to_networkx_and_dot():
    nx = pytest.importorskip("networkx")
    adv = graphgpo.advantages("graphgpo", omega=0.5, **EXAMPLE_1)
    graphs = graphgpo.build_graphs(**EXAMPLE_1)
    g = graphs.to_networkx(0, advantages=adv)
    assert isinstance(g, nx.MultiDiGraph) and g.number_of_nodes() == 5 and g.number_of_edges() == 9
    assert g.nodes[0]["kind"] == "success" and g.nodes[1]["label"] == "A" and g.nodes[1]["distance"] == 2
    assert sorted(d["advantage"] for _, _, d in g.edges(data=True)) == sorted(adv.tolist())
    dot = graphs.to_dot(0, advantages=adv)
    assert dot.startswith('digraph "group 0" {') and dot.count("->") == 9 and 'label="SUCCESS\\nd=0"' in dot
    assert "#" in dot  # colored edges


def test_diagnostics_values():
    d = graphgpo.diagnostics(**EXAMPLE_1)
    assert d["num_rows"] == 9 and d["num_groups"] == 1
    assert d["mean_nodes_per_group"] == 5 and d["mean_edges_per_group"] == 9
    # Start states A (3 trajectories), B (t0, t2), C (t0, t1) are shared; D (t2 only) is not.
    assert d["shared_state_row_share"] == pytest.approx(8 / 9)
    assert d["unreachable_node_share"] == 0 and d["groups_without_success"] == 0
    # Failed t2: A->D (2 -> 3) no, D->B (3 -> 2) yes, B->B no, B->C yes.
    assert d["failed_steps_closer_share"] == pytest.approx(2 / 4)
    # Successful: A->B (2 -> 2) is not closer; the other four are.
    assert d["successful_steps_not_closer_share"] == pytest.approx(1 / 5)


def test_diagnostics_empty_and_failed_groups():
    d = graphgpo.diagnostics(group=[0, 0, 1], trajectory=[0, 0, 1], state=[1, 2, 3], success=[0, 0, 1])
    assert d["groups_without_success"] == 1 and d["groups_without_success_share"] == 0.5
    e = graphgpo.diagnostics(group=[], trajectory=[], state=[], success=[])
    assert e["num_rows"] == 0 and np.isnan(e["failed_steps_closer_share"])


# -- GraphBatch takes group ids, checks advantages, and says what it holds ----------------------------------

TWO_GROUPS = {"group": [7, 7, 3, 3], "trajectory": [0, 0, 1, 1], "state": ["a", "b", "x", "y"],
              "success": [1, 1, 0, 0]}


def test_methods_take_the_group_id_as_passed():
    """to_dot(7) on groups [7, 7, 3, 3] used to raise IndexError (it took a group index)."""
    graphs = graphgpo.build_graphs(**TWO_GROUPS)
    assert graphs.group_ids.tolist() == [7, 3] and 7 in graphs and 0 not in graphs
    src, dst, rows = graphs.edges(3)
    assert rows.tolist() == [2, 3] and graphs.has_success(7) and not graphs.has_success(3)
    assert graphs.node_labels(3) == ["SUCCESS", "x", "y", "TERMINAL 3"]
    assert graphs.to_dot(np.int64(7)).startswith('digraph "group 7" {')
    assert graphs.num_edges(7) == 2 and graphs.csr(3).rows.tolist() == [2, 3]
    with pytest.raises(ValueError, match=r"group 0 is not in this batch \(its group ids: 7, 3\)"):
        graphs.distances(0)
    with pytest.raises(TypeError, match="group id"):
        graphs.distances(1.0)


def test_string_group_ids():
    """verl's uid strings: the graphs are found by the same strings (bytes equal their UTF-8 str)."""
    uid = ["9b2e-task", "9b2e-task", "c41f-task", "c41f-task"]
    graphs = graphgpo.build_graphs(**{**TWO_GROUPS, "group": uid})
    assert graphs.group_ids.tolist() == ["9b2e-task", "c41f-task"]
    assert graphs.edges("c41f-task")[2].tolist() == [2, 3] and graphs.edges(b"c41f-task")[2].tolist() == [2, 3]
    assert graphs.to_dot("9b2e-task").startswith('digraph "group 9b2e-task" {')
    assert "missing" not in graphs and "c41f-task" in graphs
    assert graphgpo.build_graphs(**{**TWO_GROUPS, "group": np.array(uid)}).group_ids.tolist() == uid[::2]
    nx = pytest.importorskip("networkx")
    assert isinstance(graphs.to_networkx("9b2e-task"), nx.MultiDiGraph)


def test_repr():
    graphs = graphgpo.build_graphs(**TWO_GROUPS)
    assert repr(graphs) == "GraphBatch(2 groups [7, 3], 4 rows, 7 nodes)"
    many = graphgpo.build_graphs(group=list(range(8)), trajectory=list(range(8)), state=[1] * 8, success=[1] * 8)
    assert repr(many) == "GraphBatch(8 groups [0, 1, 2, 3, 4, ...], 8 rows, 16 nodes)"
    assert repr(graphgpo.build_graphs(group=["u"], trajectory=[0], state=[1], success=[1])) == \
        "GraphBatch(1 group ['u'], 1 rows, 2 nodes)"


@pytest.mark.parametrize("bad", [[0.5] * 3, [0.5] * 5, np.zeros((4, 1))])
def test_advantages_must_match_the_batch_rows(bad):
    """A wrong-length array used to give a raw numpy IndexError (too short) or pass silently (too long)."""
    graphs = graphgpo.build_graphs(**TWO_GROUPS)
    with pytest.raises(ValueError, match="advantages has shape .* but this batch has 4 rows"):
        graphs.to_dot(7, advantages=bad)
    pytest.importorskip("networkx")
    with pytest.raises(ValueError, match="this batch has 4 rows"):
        graphs.to_networkx(3, advantages=bad)


def test_dot_of_a_batch_with_none_next_states_uses_its_rows():
    """The rows used for the advantages (next_state with gaps) are the rows drawn."""
    batch = {**EXAMPLE_1, "next_state": [None, "C", "X", None, "Y", None, "B", None, "C"]}
    adv = graphgpo.advantages("graphgpo", omega=0.5, **batch)
    dot = graphgpo.build_graphs(**batch).to_dot(0, advantages=adv)
    assert dot == graphgpo.build_graphs(**EXAMPLE_1).to_dot(0, advantages=adv)
    assert "TERMINAL" not in dot and '[label="-0.472"' in dot


def test_diagnostics_do_not_depend_on_group_ids():
    """The same rows under other ids (ints that are not 0..k-1, uid strings) give the same statistics."""
    batch = {"group": [0, 0, 0, 1, 1, 1], "trajectory": [0, 0, 1, 2, 2, 3], "state": [1, 2, 1, 5, 6, 5],
             "success": [1, 1, 0, 0, 0, 1]}
    want = graphgpo.diagnostics(**batch)
    for group in ([70, 70, 70, 3, 3, 3], ["uid-b", "uid-b", "uid-b", "uid-a", "uid-a", "uid-a"]):
        got = graphgpo.diagnostics(**{**batch, "group": group})
        assert got == pytest.approx(want, nan_ok=True)
    assert want["shared_state_row_share"] == pytest.approx(4 / 6)
