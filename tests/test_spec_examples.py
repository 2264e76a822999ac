"""SPEC's worked examples, to 1e-6, through the engine and through the reference."""

import numpy as np
import pytest

import graphgpo
from graphgpo.testing.reference import reference_advantages
from graphgpo.testing.spec_examples import (
    EXAMPLE_1,
    EXAMPLE_2,
    EXAMPLE_3,
    EXPECTED_1,
    EXPECTED_2,
    EXPECTED_PROGPO_1,
    EXPECTED_PROGPO_3,
)


@pytest.mark.parametrize("compute", [graphgpo.advantages, reference_advantages], ids=["engine", "reference"])
@pytest.mark.parametrize("case", list(EXPECTED_1), ids=lambda c: c[0] + "".join(f"-{v}" for _, v in c[1]))
def test_worked_example_1(compute, case):
    method, options = case
    got = compute(method, omega=0.5, **dict(options), **EXAMPLE_1)
    np.testing.assert_allclose(got, EXPECTED_1[case], atol=1e-6)


@pytest.mark.parametrize("compute", [graphgpo.advantages, reference_advantages], ids=["engine", "reference"])
@pytest.mark.parametrize("distance", ["shortest", "expected"])
def test_worked_example_2(compute, distance):
    got = compute("graphgpo", omega=0.5, distance=distance, **EXAMPLE_2)
    np.testing.assert_allclose(got, EXPECTED_2[distance], atol=1e-6)


@pytest.mark.parametrize("compute", [graphgpo.advantages, reference_advantages], ids=["engine", "reference"])
@pytest.mark.parametrize("options", list(EXPECTED_PROGPO_1), ids=lambda o: "-".join(v for _, v in o) or "default")
def test_worked_example_3_progpo(compute, options):
    got = compute("progpo", **dict(options), **EXAMPLE_1)
    np.testing.assert_allclose(got, EXPECTED_PROGPO_1[options], atol=1e-6)


@pytest.mark.parametrize("compute", [graphgpo.advantages, reference_advantages], ids=["engine", "reference"])
def test_worked_example_3_progpo_costs_and_a_group_without_success(compute):
    got = compute("progpo", **EXAMPLE_3)
    np.testing.assert_allclose(got, EXPECTED_PROGPO_3, atol=1e-6)


def test_progpo_signs_follow_progress_not_outcome():
    """SPEC's point for ProGPO: the detour A->B of a successful rollout is negative, the step B->C of a failed
    one positive, and omega changes nothing."""
    adv = graphgpo.advantages("progpo", **EXAMPLE_1)
    assert adv[0] < 0 < adv[8]
    assert list(np.sign(adv)) == [-1, 1, 1, 1, 1, -1, -1, -1, 1]
    np.testing.assert_array_equal(graphgpo.advantages("progpo", omega=0.9, gamma=0.1, **EXAMPLE_1), adv)


def test_failed_step_toward_success_beats_self_loop():
    """SPEC's point: B->C in a failed trajectory gets far more credit than B->B."""
    adv = graphgpo.advantages("graphgpo", omega=0.5, **EXAMPLE_1)
    assert adv[8] - adv[7] > 1.5


def test_distances_of_example_2():
    graphs = graphgpo.build_graphs(**{k: v for k, v in EXAMPLE_2.items()})
    labels = graphs.node_labels(0)
    dist = dict(zip(labels, graphs.distances(0).tolist()))
    assert dist == {"SUCCESS": 0.0, "Z": 3.0, "A": 2.0, "B": 1.0, "C": 4.0, "D": 2.0, "E": 1.0}
    expected = graphgpo.build_graphs(distance="expected", **EXAMPLE_2)
    dist = dict(zip(expected.node_labels(0), expected.distances(0).tolist()))
    assert dist["A"] == pytest.approx(4.0) and dist["Z"] == pytest.approx(3.0) and dist["C"] == 4.0


@pytest.mark.parametrize("values", [[0.0, 5e-324], [0.0, 7.9e-226, 0.0], [1e-160, -3e-160, 2e-160]])
def test_reference_z_score_with_eps_0_survives_values_too_small_to_square(values):
    """SPEC: eps=0 is the plain z-score and finite inputs give finite advantages. The z-score does not
    change when the values are scaled, so tiny values must give what the same values scaled up give."""
    from graphgpo.testing.reference import normalize

    got = normalize(values, "mean_std", 0.0, True)
    scaled = normalize([v * 2.0**600 for v in values], "mean_std", 0.0, True)
    np.testing.assert_allclose(got, scaled, rtol=1e-12, atol=0)
    assert all(np.isfinite(got)) and abs(sum(got)) < 1e-12
