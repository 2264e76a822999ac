"""Finite inputs that pass validation never give an inf or NaN advantage with a success status: the engine
computes the exact finite result (normalization of values scaled by a power of two, omega powers relative
to the largest one), or raises ValueError naming the row and the quantity that float64 cannot hold.

The expected values come from `exact_advantages`, SPEC's formulas with Python's decimal module (no overflow,
no underflow) wherever float64 would overflow or round the spread of tiny values away."""

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphgpo
from graphgpo.testing.reference import DEFAULTS, next_nodes, reference_distances, trajectories
from graphgpo.testing.strategies import batches


def exact_normalize(values, norm, eps, singleton_is_zero):
    n = len(values)
    if n == 1:
        if singleton_is_zero:
            return [Decimal(0)]
        mean, std = Decimal(0), Decimal(1)
    else:
        if all(v == values[0] for v in values):
            return [Decimal(0)] * n
        mean = sum(values) / n
        std = (sum((v - mean) ** 2 for v in values) / (n - 1)).sqrt()
    if norm == "mean":
        return [v - mean for v in values]
    return [(v - mean) / (std + Decimal(eps)) for v in values]


def exact_advantages(method, *, group, trajectory, state, success, next_state=None, valid=None, reward=None,
                     cost=None, action=None, **options):
    """SPEC in decimal arithmetic (60 digits, exponents unbounded for our purposes); rewards are summed in
    float64 first, as SPEC's 'compute in float64' says (the sums are validated inputs of the formulas)."""
    o = {**DEFAULTS, **options}
    n = len(state)
    valid = [True] * n if valid is None else [bool(v) for v in valid]
    spans = trajectories(list(trajectory))
    if reward is None:
        reward = [0.0] * n
        for _, _, hi in spans:
            if success[hi - 1]:
                reward[hi - 1] = float(o["success_reward"])
    with localcontext() as ctx:
        ctx.prec, ctx.Emax, ctx.Emin = 60, 10**9, -(10**9)
        ip, eps = Decimal(o["invalid_penalty"]), o["eps"]
        episode = {}
        for _, lo, hi in spans:
            episode[lo] = sum(reward[lo:hi])  # float64, in row order
        scores, keys = [], []
        for _, lo, hi in spans:
            for i in range(lo, hi):
                scores.append(Decimal(episode[lo]) - (0 if valid[i] else ip))
                keys.append(group[i])
        a_episode = _normalize_by(keys, scores, o["norm"], eps, False)
        if method == "grpo":
            return [float(a) for a in a_episode]
        if method == "gigpo":
            step_return = [Decimal(0)] * n
            for _, lo, hi in spans:
                running = 0.0
                for i in range(hi - 1, lo - 1, -1):
                    running = reward[i] + o["gamma"] * running  # float64, as SPEC
                    step_return[i] = Decimal(running)
        else:
            dist = reference_distances(group=group, trajectory=trajectory, state=state, success=success,
                                       next_state=next_state, cost=cost, action=action, distance=o["distance"])
            nxt = next_nodes(state, next_state, success, trajectory)
            step_return = []
            for i in range(n):
                d = dist[group[i]]
                if o["normalize_distance"]:
                    x = Decimal(d[nxt[i]]) - Decimal(d[state[i]]) + 1
                elif o["convention"] == "paper":
                    x = Decimal(d[nxt[i]]) + Decimal(1.0 if cost is None else cost[i])
                else:
                    x = Decimal(d[nxt[i]])
                step_return.append(Decimal(o["success_reward"]) * Decimal(o["omega"]) ** x)
        step_return = [r - (0 if valid[i] else ip) for i, r in enumerate(step_return)]
        a_step = _normalize_by(list(zip(group, state)), step_return, o["norm"], eps, True)
        ew, sw = Decimal(o["episode_weight"]), Decimal(o["step_weight"])
        return [float(ew * e + sw * s) for e, s in zip(a_episode, a_step)]


def _normalize_by(keys, values, norm, eps, singleton_is_zero):
    out = [Decimal(0)] * len(values)
    segments = {}
    for i, k in enumerate(keys):
        segments.setdefault(k, []).append(i)
    for idx in segments.values():
        for i, v in zip(idx, exact_normalize([values[i] for i in idx], norm, eps, singleton_is_zero)):
            out[i] = v
    return out


def check(method, batch, **options):
    got = graphgpo.advantages(method, **batch, **options)
    assert np.isfinite(got).all(), got
    np.testing.assert_allclose(got, exact_advantages(method, **batch, **options), rtol=1e-9, atol=1e-9)
    return got


TWO = dict(group=[0, 0], trajectory=[0, 1], state=[1, 2], success=[0, 0])


@pytest.mark.parametrize("rewards", [[0.0, 1.0], [0.0, 5e-324], [1e-310, 3e-310], [-1.5e308, 1.5e308],
                                     [1.7e308, 1.6e308]])
@pytest.mark.parametrize("norm", ["mean_std", "mean"])
def test_episode_normalization_with_eps_zero_is_the_z_score(rewards, norm):
    # eps=0: (x - mean) / std; before, [0, 5e-324] gave [nan, inf] and [-1.5e308, 1.5e308] gave [0, 0].
    got = check("grpo", {**TWO, "reward": rewards}, eps=0.0, norm=norm)
    if norm == "mean_std":
        np.testing.assert_allclose(np.abs(got), [math.sqrt(0.5)] * 2, rtol=1e-12)


def test_score_minus_mean_beyond_float64_raises():
    batch = dict(group=[0, 0, 0], trajectory=[0, 1, 2], state=[1, 2, 3], success=[0, 0, 0],
                 reward=[-1.7e308, 1.7e308, 1.7e308])  # row 0: -1.7e308 - 0.57e308
    with pytest.raises(ValueError, match=r"^row 0: A_E \(score - mean\) is beyond the float64 range"):
        graphgpo.grpo(**batch, norm="mean")
    check("grpo", batch)  # mean_std: finite z-scores


def test_equal_values_give_zero_with_eps_zero():
    np.testing.assert_array_equal(graphgpo.grpo(**TWO, reward=[3.0, 3.0], eps=0.0), [0.0, 0.0])


@pytest.mark.parametrize("method", ["grpo", "gigpo", "graphgpo"])
def test_rewards_summing_beyond_float64_raise_naming_the_row(method):
    batch = dict(group=[0, 0, 0], trajectory=[0, 0, 1], state=[1, 2, 1], success=[0, 0, 0],
                 reward=[1e308, 1e308, 0.0])
    with pytest.raises(ValueError, match=r"row 0: reward: the sum of trajectory 0's rewards is beyond the float64"):
        graphgpo.advantages(method, **batch)


def test_discounted_return_beyond_float64_raises():
    # The episode sum (-1e308 + 1e308 + 1e308) is finite, the return from row 1 (1e308 + 1e308) is not.
    batch = dict(group=[0, 0, 0, 0], trajectory=[0, 0, 0, 1], state=[1, 2, 3, 1], success=[0, 0, 0, 0],
                 reward=[-1e308, 1e308, 1e308, 0.0])
    with pytest.raises(ValueError, match=r"row 1: reward: the discounted return is beyond the float64 range"):
        graphgpo.gigpo(**batch, gamma=1.0)


def test_huge_weight_raises_naming_the_row():
    batch = dict(group=[0, 0], trajectory=[0, 1], state=[1, 1], success=[1, 0])
    with pytest.raises(ValueError, match=r"row 0: episode_weight \* A_E \+ step_weight \* A_S is beyond"):
        graphgpo.graphgpo(**batch, episode_weight=1.7e308, step_weight=1.7e308)


def stuck_batch(cost):
    """Trajectory 0 pays `cost` to get from A to B, then succeeds; trajectory 1 goes A -> C and fails.
    With normalize_distance, the first row's exponent is d(B) - d(A) + 1 = 1 - cost: omega**(1 - 400) is
    beyond float64 at the default omega 0.1 (the NaN the issue reported)."""
    return dict(group=[0] * 4, trajectory=[0, 0, 1, 1], state=["A", "B", "A", "C"], success=[1, 1, 0, 0],
                cost=[cost, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("cost", [3.0, 400.0, 1e5])
@pytest.mark.parametrize("norm", ["mean_std", "mean"])
def test_normalize_distance_with_large_costs_is_finite(cost, norm):
    batch = stuck_batch(cost)
    if norm == "mean" and cost > 300:  # x - mean is itself ~10**cost: not a float64
        with pytest.raises(ValueError, match=r"row 0: A_S \(step return - mean\) is beyond the float64 range"):
            graphgpo.graphgpo(**batch, normalize_distance=True, norm=norm)
        return
    check("graphgpo", batch, normalize_distance=True, norm=norm)


@pytest.mark.parametrize("eps", [0.0, 1e-6])
def test_tiny_step_returns_keep_their_spread(eps):
    # d = 400 and 401: 10 * 0.1**400 underflows to 0 in float64, so the plain formula saw two equal zeros.
    batch = dict(group=[0] * 4, trajectory=[0, 0, 1, 1], state=["A", "B", "A", "C"], success=[1, 1, 1, 1],
                 cost=[1.0, 400.0, 1.0, 401.0])
    got = check("graphgpo", batch, eps=eps)
    if eps == 0.0:
        # Step group of A: returns 10 * 0.1**400 and 10 * 0.1**401: z-scores +-0.707.
        np.testing.assert_allclose(got[[0, 2]] - graphgpo.grpo(**batch, eps=0.0)[[0, 2]],
                                   [math.sqrt(0.5), -math.sqrt(0.5)], rtol=1e-9)


def test_path_cost_beyond_float64_raises():
    batch = dict(group=[0, 0, 0], trajectory=[0, 0, 0], state=["A", "B", "C"], success=[1, 1, 1],
                 cost=[1.5e308, 1.5e308, 1.0])
    with pytest.raises(ValueError, match=r"row 0: cost: the path cost from this row to SUCCESS is beyond"):
        graphgpo.graphgpo(**batch)
    with pytest.raises(ValueError, match=r"row 0: cost: the path cost"):
        graphgpo.build_graphs(**batch)


def test_expected_distance_with_huge_costs_is_exact():
    # Two rows of (A, go) with cost 1.5e308: their sum overflows, their mean does not.
    batch = dict(group=[0] * 4, trajectory=[0, 1, 1, 2], state=["A", "A", "B", "A"], next_state=["B", "B", "B", "C"],
                 success=[1, 0, 0, 0], action=[0, 0, 1, 0], cost=[1.5e308, 1.5e308, 1.0, 1.0])
    graphs = graphgpo.build_graphs(**{k: v for k, v in batch.items()}, distance="expected")
    assert np.isfinite(graphs.distances(0)).all()
    check("graphgpo", batch, distance="expected", omega=0.5)


def test_errors_name_the_lowest_row_whatever_the_thread_count():
    # Many groups, two of them overflowing: the reported row is the lower one, on 1 or 4 threads.
    n = 40_000
    group = np.repeat(np.arange(n // 4), 4)
    reward = np.zeros(n)
    reward[[30_000, 30_001, 20_000, 20_001]] = 1e308
    batch = dict(group=group, trajectory=np.arange(n) // 2, state=np.arange(n) % 3, success=np.zeros(n, bool),
                 reward=reward)
    for threads in (1, 4):
        with pytest.raises(ValueError, match=r"^row 20000: reward"):
            graphgpo.graphgpo(**batch, num_threads=threads)


magnitudes = st.sampled_from([1e-320, 1e-300, 1e-150, 1.0, 1e150, 1e300, 1e307, 1.7e308])


@settings(max_examples=150, deadline=None)
@given(batch=batches(max_groups=3, max_trajectories=3, max_length=4), method=st.sampled_from(graphgpo.METHODS),
       reward_scale=magnitudes, cost_scale=st.sampled_from([1.0, 1e100, 1e300, 1e307]),
       eps=st.sampled_from([0.0, 1e-300, 1e-6, 1e300]), omega=st.sampled_from([1e-300, 0.1, 0.5, 1 - 1e-12]),
       weight=st.sampled_from([1.0, -1e300, 1e308]), normalize_distance=st.booleans(),
       norm=st.sampled_from(["mean_std", "mean"]), convention=st.sampled_from(["reference", "paper"]),
       distance=st.sampled_from(["shortest", "expected"]), success_reward=st.sampled_from([10.0, -1e308, 1e-300, 0.0]),
       invalid_penalty=st.sampled_from([0.1, 1e-300, -1e308]),
       episode_stats=st.sampled_from(["per_step", "per_trajectory"]))
def test_extreme_finite_inputs_never_give_inf_or_nan(batch, method, reward_scale, cost_scale, eps, omega, weight,
                                                     normalize_distance, norm, convention, distance,
                                                     success_reward, invalid_penalty, episode_stats):
    if batch["reward"] is not None:
        batch["reward"] = [r / 5 * reward_scale for r in batch["reward"]]  # |r| <= 5: stays finite
    if batch["cost"] is not None:
        batch["cost"] = [c * cost_scale for c in batch["cost"]]
    if distance == "expected" and batch["action"] is None:
        batch["action"] = [0] * len(batch["state"])
    options = dict(eps=eps, omega=omega, episode_weight=weight, step_weight=weight, norm=norm,
                   normalize_distance=normalize_distance, convention=convention, distance=distance,
                   success_reward=success_reward, invalid_penalty=invalid_penalty, episode_stats=episode_stats)
    try:
        got = graphgpo.advantages(method, **batch, **options)
    except ValueError as error:
        assert str(error).startswith("row "), error
        assert "beyond the float64 range" in str(error), error
        return
    assert np.isfinite(got).all(), (got, options)


def test_zero_success_reward_with_overflowing_powers():
    # 0 * omega**-399 is 0 * inf = NaN in float64; the exact step returns are all 0 (minus penalties).
    batch = {**stuck_batch(400.0), "valid": [1, 0, 1, 1]}
    check("graphgpo", batch, normalize_distance=True, success_reward=0.0)
