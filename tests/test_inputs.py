"""How user inputs become engine arrays: ids (integers or hashed strings), flags, states, and None for "no
next state". Nothing is converted silently: out-of-range or fractional ids raise ValueError naming the row,
mixed element types raise TypeError."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphgpo
from graphgpo._inputs import as_ids, text_ids
from graphgpo.testing.reference import reference_advantages
from graphgpo.testing.spec_examples import EXAMPLE_1, EXPECTED_1
from graphgpo.testing.strategies import batches, options

GOOD = {"group": [0, 0, 0, 0, 1, 1], "trajectory": [0, 0, 1, 1, 2, 2], "state": ["a", "b", "a", "c", "x", "y"],
        "success": [1, 1, 0, 0, 1, 1]}


def call(method="graphgpo", **changes):
    return graphgpo.advantages(method, **{**GOOD, **changes})


# -- ids ----------------------------------------------------------------------------------------------------

def test_ids_beyond_int64_are_not_merged_through_float64():
    """numpy would read this list as float64, where 2**64-1 and 2**64-2 are the same number."""
    with pytest.raises(ValueError, match=r"trajectory row 2: id 18446744073709551615 does not fit in int64"):
        graphgpo.advantages("grpo", group=[0] * 4, trajectory=[-1, -1, 2**64 - 1, 2**64 - 2], state=[1] * 4,
                            success=[1, 1, 0, 0])


@pytest.mark.parametrize("ids,row", [([0, 2**63], 1), ([-(2**63) - 1, 0], 0), ([0, 0, 0, 0, 0, 2**70], 5)])
def test_python_ints_outside_int64_raise_value_error(ids, row):
    with pytest.raises(ValueError, match=f"group row {row}: id"):
        as_ids(ids, "group")


def test_int64_bounds_are_ids():
    assert as_ids([-(2**63), 2**63 - 1], "g").tolist() == [-(2**63), 2**63 - 1]
    assert as_ids(np.array([2**63 - 1], dtype=np.uint64), "g").tolist() == [2**63 - 1]


def test_uint64_ids_that_would_wrap_raise():
    with pytest.raises(ValueError, match="group row 1: id 9223372036854775808 does not fit in int64"):
        as_ids(np.array([1, 2**63], dtype=np.uint64), "group")


@pytest.mark.parametrize("ids,row", [([1.0, 2.0**63], 1), ([1.0, 1.5], 1), ([np.nan, 1.0], 0),
                                     ([1.0, -np.inf], 1), ([-(2.0**64), 0.0], 0)])
def test_float_ids_must_hold_int64_integers(ids, row):
    for value in (ids, np.asarray(ids)):
        with pytest.raises(ValueError, match=f"trajectory row {row}: .* is not an integer id within int64"):
            as_ids(value, "trajectory")


def test_integral_float_ids_are_their_integers():
    assert as_ids(np.array([3.0, -(2.0**63), 2.0**62]), "g").tolist() == [3, -(2**63), 2**62]


@pytest.mark.parametrize("ids,row,what", [([1, 2.0], 1, "float"), ([1, True], 1, "bool"), ([1, "a"], 1, "str"),
                                          (["a", 7], 1, "int"), ([1.0, 2], 1, "int")])
def test_mixed_id_types_raise_type_error(ids, row, what):
    with pytest.raises(TypeError, match=f"group row {row}: .*\\({what}\\) among"):
        as_ids(ids, "group")


@pytest.mark.parametrize("ids", [[True, False], np.array([True, False]), [None, None], [(1,), (2,)]])
def test_bools_and_other_objects_are_not_ids(ids):
    with pytest.raises(TypeError, match="group"):
        as_ids(ids, "group")


def test_string_ids_are_hashed_stably():
    """verl's uid / traj_uid are uuid strings: equal strings give equal ids, in every call and process;
    a str is its UTF-8 bytes, as for states."""
    uids = ["6f1c-a", "6f1c-a", "b", "b", "ü"]
    ids = as_ids(uids, "group")
    assert ids.dtype == np.int64 and ids[0] == ids[1] and ids[2] == ids[3] and len(set(ids.tolist())) == 3
    np.testing.assert_array_equal(ids, as_ids(np.array(uids), "group"))
    np.testing.assert_array_equal(ids, as_ids(np.array(uids, dtype=object), "group"))
    np.testing.assert_array_equal(ids, as_ids([u.encode() for u in uids], "group"))
    np.testing.assert_array_equal(ids, as_ids(["6f1c-a", b"6f1c-a", "b", b"b", "ü"], "group"))
    # Pinned: the low 64 bits of the state fingerprint of the same text.
    assert ids[0] == graphgpo.fingerprint(["6f1c-a"])["lo"].view(np.int64)[0]
    np.testing.assert_array_equal(text_ids(["b"]), ids[2:3])


def test_many_distinct_string_ids_stay_distinct():
    uids = [f"{i:032x}" for i in range(200_000)]
    assert len(np.unique(as_ids(uids, "group"))) == len(uids)


def test_string_ids_give_the_same_advantages_as_integer_ids():
    uid = ["q-17", "q-17", "q-17", "q-17", "q-99", "q-99"]
    traj_uid = ["r0", "r0", "r1", "r1", "r2", "r2"]
    for method in graphgpo.METHODS:
        np.testing.assert_array_equal(call(method, group=uid, trajectory=traj_uid), call(method))


def test_string_ids_are_validated_like_integers():
    with pytest.raises(ValueError, match="row 3: trajectory .* is split"):
        call(trajectory=["a", "a", "b", "a", "c", "c"])


# -- flags --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["success", "valid"])
@pytest.mark.parametrize("bad", [2, -1, 0.5])
def test_flags_are_strictly_zero_or_one(field, bad):
    values = [1, 1, 0, 0, 1, 1]
    values[4] = bad
    for given_as in (values, np.asarray(values)):
        with pytest.raises(ValueError, match=f"{field} must be boolean; row 4 is {bad!r}"):
            call(**{field: given_as})


def test_flags_accept_bools_and_zero_one_numbers():
    want = call()
    for success in ([True, True, False, False, True, True], np.array([1, 1, 0, 0, 1, 1], dtype=np.uint8),
                    [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]):
        np.testing.assert_array_equal(call(success=success), want)


def test_torch_flags_are_strict_too():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="success must be boolean; row 0 is 2"):
        call(success=torch.tensor([2, 1, 0, 0, 1, 1]))


# -- states -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("states,row,kind", [([10, 12.5], 1, "float"), ([10, True], 1, "bool"),
                                             ([10, np.float64(3.0)], 1, "float64"), ([10, "a"], 1, "str")])
def test_int_state_lists_refuse_other_element_types(states, row, kind):
    """fingerprint([10, 12.5]) used to equal fingerprint([10, 12])."""
    with pytest.raises(TypeError, match=f"states row {row}: unsupported state .*\\({kind}\\)"):
        graphgpo.fingerprint(states)


@pytest.mark.parametrize("states,row", [([2**63], 0), ([1, -(2**63) - 1], 1), (np.array([0, 2**63], np.uint64), 1)])
def test_int_states_outside_int64_raise_value_error(states, row):
    """fingerprint([2**63]) used to raise a bare StopIteration."""
    with pytest.raises(ValueError, match=f"states row {row}: integer state .* does not fit in int64"):
        graphgpo.fingerprint(states)


def test_int64_bound_states_are_fine():
    fp = graphgpo.fingerprint([-(2**63), 2**63 - 1])
    assert fp.tobytes() == graphgpo.fingerprint(np.array([-(2**63), 2**63 - 1])).tobytes()


def test_ragged_token_tensors_are_states():
    """A list of 1-D tensors (token ids of different lengths, common in LLM RL) hashes like the same
    sequences as lists, and like the rows of a 2-D array where the lengths agree."""
    torch = pytest.importorskip("torch")
    rows = [[5, 6, 7], [5, 6], [5, 6, 7], [8]]
    tensors = [torch.tensor(r) for r in rows]
    fp = graphgpo.fingerprint(tensors)
    assert fp.tobytes() == graphgpo.fingerprint(rows).tobytes()
    assert fp.tobytes() == graphgpo.fingerprint([torch.tensor(r, dtype=torch.int32) for r in rows]).tobytes()
    assert fp[0] == fp[2] and fp[0] != fp[1]
    assert fp[0] == graphgpo.fingerprint(np.array([[5, 6, 7]]))[0]
    batch = {"group": [0] * 4, "trajectory": [0, 0, 1, 1], "success": [1, 1, 0, 0]}
    np.testing.assert_array_equal(graphgpo.advantages("graphgpo", state=tensors, **batch),
                                  graphgpo.advantages("graphgpo", state=["a", "b", "a", "c"], **batch))


def test_ragged_rows_must_hold_integers():
    with pytest.raises(TypeError, match="states row 1: sequences must hold integers"):
        graphgpo.fingerprint([[1, 2], [1, True]])
    with pytest.raises(TypeError, match="states row 1: sequences must be one-dimensional integers"):
        graphgpo.fingerprint([[1, 2], np.array([1.5])])


def test_state_errors_name_the_field():
    with pytest.raises(TypeError, match=r"^next_state row 2: unsupported state type 'float'"):
        call(next_state=["b", "c", 2.5, "d", "y", "z"])
    with pytest.raises(ValueError, match=r"^next_state row 1: str cannot be encoded as UTF-8"):
        call(next_state=["b", "\udcff", "c", "d", "y", "z"])
    with pytest.raises(TypeError, match=r"^state row 2: .*None means 'no state' and is accepted only in next_state"):
        call(state=["a", "b", None, "c", "x", "y"])


# -- None: "no next state" for a row ---------------------------------------------------------------------------

def test_none_next_state_is_the_next_rows_state():
    """A None next_state on a row that is not last in its trajectory is the next row's state."""
    partial = dict(EXAMPLE_1, next_state=[None, "C", "X", None, "Y", None, "B", None, "C"])
    for (method, opts), expected in EXPECTED_1.items():
        got = graphgpo.advantages(method, **partial, omega=0.5, **dict(opts))
        np.testing.assert_allclose(got, expected, atol=2e-6)


def test_none_next_state_on_a_last_row_follows_spec():
    """Last row of a failed trajectory without next state: a terminal node of its own (not the next row's
    state); of a successful one: SUCCESS. The same as giving no next_state for the whole batch."""
    batch = {"group": [0] * 5, "trajectory": [0, 0, 1, 1, 2], "state": ["a", "b", "a", "c", "a"],
             "success": [1, 1, 0, 0, 0]}
    without = graphgpo.advantages("graphgpo", **batch)
    for method in graphgpo.METHODS:
        got = graphgpo.advantages(method, **batch, next_state=[None] * 5)
        np.testing.assert_array_equal(got, graphgpo.advantages(method, **batch))
    graphs = graphgpo.build_graphs(**batch, next_state=["b", None, "c", None, None])
    assert graphs.node_kinds(0).tolist().count(graphgpo.graph.NODE_TERMINAL) == 2
    assert graphgpo.advantages("graphgpo", **batch, next_state=["b", None, None, None, None]).tolist() == \
        without.tolist()


def test_zero_fingerprint_is_no_next_state():
    """The engine reads the reserved fingerprint {0, 0} as "no next state", whatever container carries it."""
    fps = graphgpo.fingerprint(EXAMPLE_1["next_state"])
    fps[[0, 3, 7]] = 0
    partial = dict(EXAMPLE_1, next_state=fps)
    np.testing.assert_allclose(graphgpo.advantages("graphgpo", **partial, omega=0.5),
                               EXPECTED_1[("graphgpo", ())], atol=2e-6)


def test_none_next_state_with_key_and_grpo():
    partial = dict(EXAMPLE_1, next_state=[None, "c", "x", None, "y", None, "b", None, "c"])
    np.testing.assert_allclose(graphgpo.advantages("graphgpo", **partial, key=str.upper, omega=0.5),
                               EXPECTED_1[("graphgpo", ())], atol=2e-6)
    np.testing.assert_allclose(graphgpo.advantages("grpo", **partial), EXPECTED_1[("grpo", ())], atol=2e-6)
    with pytest.raises(TypeError, match="next_state row 2: unsupported state type 'int'"):
        graphgpo.advantages("grpo", **dict(partial, next_state=[None, "c", 7, None, "y", None, "b", None, "c"]))


@pytest.mark.parametrize("make", [list, lambda xs: np.array(xs, dtype=object)])
def test_none_next_state_in_int_and_sequence_states(make):
    batch = {"group": [0] * 4, "trajectory": [0, 0, 1, 1], "success": [1, 1, 0, 0]}
    want = graphgpo.advantages("graphgpo", **batch, state=[1, 2, 1, 3], next_state=[2, 9, 3, 4])
    got = graphgpo.advantages("graphgpo", **batch, state=[1, 2, 1, 3], next_state=make([None, 9, None, 4]))
    np.testing.assert_array_equal(got, want)
    got = graphgpo.advantages("graphgpo", **batch, state=[[1], [2], [1], [3]],
                              next_state=make([None, [9], None, [4]]))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("method", graphgpo.METHODS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_none_next_state_matches_reference(method, data):
    batch = data.draw(batches(with_next_state=True, next_state_gaps=True))
    opts = data.draw(options(method))
    np.testing.assert_allclose(graphgpo.advantages(method, **batch, **opts),
                               reference_advantages(method, **batch, **opts), rtol=1e-9, atol=1e-9)


# -- the TRL layer follows the same str/bytes rule ---------------------------------------------------------------

def test_trl_keys_treat_str_as_its_utf8_bytes():
    pytest.importorskip("trl")
    from graphgpo.trl._steps import encode_key

    assert encode_key("b") == encode_key(b"b")
    assert encode_key("é") == encode_key("é".encode())
    assert encode_key(1) != encode_key("1") and encode_key(1) != encode_key(b"1")


@pytest.mark.parametrize("method", ["gigpo", "graphgpo"])
@pytest.mark.parametrize("as_bytes", [False, True])
def test_none_next_state_with_similar_merging(method, as_bytes):
    """merge="similar" compares texts; a row without a next state uses the next row's state's text."""
    enc = (lambda t: t.encode()) if as_bytes else (lambda t: t)
    rooms = {c: enc(f"You are in room {c}. A table, a lamp.") for c in "ABCDXY"}
    full = dict(EXAMPLE_1, state=[rooms[c] for c in EXAMPLE_1["state"]],
                next_state=[rooms[c] for c in EXAMPLE_1["next_state"]])
    partial = dict(full, next_state=[None if i in (0, 3, 5, 7) else s for i, s in enumerate(full["next_state"])])
    want = graphgpo.advantages(method, **full, merge="similar", similarity=0.99, omega=0.5)
    got = graphgpo.advantages(method, **partial, merge="similar", similarity=0.99, omega=0.5)
    np.testing.assert_array_equal(got, want)
    got = graphgpo.advantages(method, **partial, merge="similar", similarity=0.99, omega=0.5, key=lambda t: t)
    np.testing.assert_array_equal(got, want)
    graphs = graphgpo.build_graphs(**partial, merge="similar", similarity=0.99)
    assert graphs.node_labels(0) == graphgpo.build_graphs(**full, merge="similar", similarity=0.99).node_labels(0)
