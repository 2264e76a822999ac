"""Every kind of bad input SPEC lists gets a clear error naming the first offending row; nothing crashes."""

import math

import numpy as np
import pytest

import graphgpo

GOOD = {"group": [0, 0, 0, 0, 1, 1], "trajectory": [0, 0, 1, 1, 2, 2], "state": ["a", "b", "a", "c", "x", "y"],
        "success": [1, 1, 0, 0, 1, 1]}


def call(method="graphgpo", **changes):
    return graphgpo.advantages(method, **{**GOOD, **changes})


def test_good_batch_runs():
    assert call().shape == (6,)


@pytest.mark.parametrize("field", ["trajectory", "state", "success"])
def test_unequal_lengths(field):
    with pytest.raises(ValueError, match=f"unequal lengths: {field} has 5 rows but group has 6"):
        call(**{field: GOOD[field][:5]})


@pytest.mark.parametrize("field", ["valid", "reward", "cost", "action", "next_state"])
def test_unequal_optional_lengths(field):
    with pytest.raises(ValueError, match=f"{field} has 7 rows"):
        call(**{field: ["a"] * 7 if field == "next_state" else [1] * 7})


@pytest.mark.parametrize("field", ["group", "trajectory"])
def test_ids_must_be_one_dimensional_integers(field):
    with pytest.raises(ValueError, match="one-dimensional"):
        call(**{field: np.zeros((6, 1), dtype=int)})
    with pytest.raises(ValueError, match=f"{field} row 0: 0.5 is not an integer id"):
        call(**{field: [0.5] * 6})
    with pytest.raises(TypeError, match=f"{field} row 0: .* is not an id"):
        call(**{field: [None] * 6})


def test_trajectory_split_in_two_runs():
    with pytest.raises(ValueError, match=r"row 3: trajectory 0 is split"):
        call(trajectory=[0, 0, 1, 0, 2, 2])


def test_trajectory_spread_over_two_groups():
    with pytest.raises(ValueError, match=r"row 1: trajectory 0 is spread over groups 0 and 5"):
        call(group=[0, 5, 0, 0, 1, 1])


def test_success_not_constant():
    with pytest.raises(ValueError, match=r"row 3: success is not constant within trajectory 1"):
        call(success=[1, 1, 0, 1, 1, 1])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_reward_not_finite(bad):
    with pytest.raises(ValueError, match="row 4: reward is not finite"):
        call(reward=[0, 0, 0, 0, bad, 1])


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_cost_not_finite(bad):
    with pytest.raises(ValueError, match="row 2: cost is not finite"):
        call(cost=[1, 1, bad, 1, 1, 1])


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_cost_not_positive(bad):
    with pytest.raises(ValueError, match="row 5: cost must be > 0"):
        call(cost=[1, 1, 1, 1, 1, bad])


def test_first_offending_row_is_named():
    with pytest.raises(ValueError, match="^row 1: "):
        call(reward=[0, math.nan, 0, 0, math.nan, 0], cost=[1, 1, 1, 1, 1, -1])


@pytest.mark.parametrize("omega", [0.0, 1.0, -0.5, 2.0, math.nan])
def test_omega_outside_open_unit_interval(omega):
    with pytest.raises(ValueError, match="omega"):
        call(omega=omega)


@pytest.mark.parametrize("gamma", [-0.1, 1.5, math.inf])
def test_gamma_outside_unit_interval(gamma):
    with pytest.raises(ValueError, match="gamma"):
        call("gigpo", gamma=gamma)


def test_gamma_bounds_are_allowed():
    call("gigpo", gamma=0.0)
    call("gigpo", gamma=1.0)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown method 'ppo'"):
        call("ppo")


def test_unknown_option():
    with pytest.raises(ValueError, match="unknown option 'omgea'"):
        call(omgea=0.3)


@pytest.mark.parametrize("option,value", [("norm", "zscore"), ("convention", "official"),
                                          ("episode_stats", "per_group"), ("distance", "manhattan"),
                                          ("normalize_distance", "yes"), ("norm", 3)])
def test_option_value_outside_allowed_set(option, value):
    with pytest.raises(ValueError, match=option):
        call(**{option: value})


def test_checked_options_are_remembered_by_type_and_errors_never():
    """Options are checked once per distinct set; True and 1 are equal in Python but not as options."""
    call(normalize_distance=True)
    for _ in range(2):
        with pytest.raises(ValueError, match="normalize_distance"):
            call(normalize_distance=1)
        with pytest.raises(ValueError, match="omega"):
            call(omega=1.5)
    call(normalize_distance=np.bool_(True))  # numpy scalars are checked every time, never cached


def test_expected_distance_needs_actions():
    with pytest.raises(ValueError, match="action"):
        call(distance="expected")


@pytest.mark.parametrize("method", graphgpo.METHODS)
@pytest.mark.parametrize("states", [[1.5, 2.5, 1.5, 3.5, 0.0, 1.0], np.ones(6), [None] * 6, [object()] * 6,
                                    [{"a": 1}] * 6])
def test_unsupported_state_types(states, method):
    """GRPO skips hashing states it never reads, but still refuses states of an unsupported kind."""
    with pytest.raises(TypeError, match="state"):
        call(method, state=states)


@pytest.mark.parametrize("method", graphgpo.METHODS)
def test_mixed_state_list_names_the_row(method):
    with pytest.raises(TypeError, match="state row 3"):
        call(method, state=["a", "b", "a", 7, "x", "y"])


def test_cuda_tensor_is_refused_with_a_hint():
    torch = pytest.importorskip("torch")
    meta = torch.zeros(6, dtype=torch.long, device="meta")
    with pytest.raises(TypeError, match="CPU"):
        call(group=meta)


def test_errors_do_not_touch_inputs():
    reward = np.array([0, 0, 0, 0, np.nan, 1.0])
    before = reward.copy()
    with pytest.raises(ValueError):
        call(reward=reward)
    np.testing.assert_array_equal(reward, before)
