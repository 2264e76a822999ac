"""`advantages(..., return_episode=True)`: each row's episode advantage from the same engine pass.

The second array is A_E scored without invalid_penalty (one value per trajectory): what a trainer gives to
tokens that own no step. The first array is exactly what the call returns without the option.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphgpo
from graphgpo.testing.reference import reference_advantages
from graphgpo.testing.strategies import batches, options


def _per_trajectory_constant(trajectory, values) -> bool:
    seen: dict = {}
    return all(seen.setdefault(t, v) == v for t, v in zip(trajectory, values))


@pytest.mark.parametrize("method", graphgpo.METHODS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_episode_output_is_the_unpenalized_episode_advantage(method, data):
    batch = data.draw(batches())
    opts = data.draw(options(method))
    adv, episode = graphgpo.advantages(method, **batch, **opts, return_episode=True)
    assert adv.dtype == episode.dtype == np.float64 and adv.shape == episode.shape == (len(batch["group"]),)
    np.testing.assert_array_equal(adv, graphgpo.advantages(method, **batch, **opts))
    expected = reference_advantages("grpo", **batch, **{**opts, "invalid_penalty": 0.0})
    np.testing.assert_allclose(episode, expected, rtol=1e-9, atol=1e-9)
    # Validity does not enter it at all: the same as grpo's advantages with every row valid.
    all_valid = graphgpo.advantages("grpo", **{**batch, "valid": None}, **opts)
    np.testing.assert_array_equal(episode, all_valid)
    assert _per_trajectory_constant(batch["trajectory"], episode.tolist())


def test_episode_output_by_hand():
    # One group: t0 succeeds in two rows (its second invalid), t1 fails in two rows; per_step statistics.
    rows = dict(group=[0, 0, 0, 0], trajectory=[0, 0, 1, 1], state=["a", "b", "a", "c"], success=[1, 1, 0, 0],
                valid=[1, 0, 1, 1])
    adv, episode = graphgpo.advantages("grpo", **rows, return_episode=True)
    # Scores 10, 10, 0, 0: mean 5, unbiased std sqrt(100 / 3).
    a = 5.0 / (np.sqrt(100.0 / 3.0) + 1e-6)
    np.testing.assert_allclose(episode, [a, a, -a, -a], rtol=1e-12)
    # The advantages keep the penalty on the invalid row (scores 10, 9.9, 0, 0).
    assert adv[1] < adv[0] and not np.allclose(adv, episode)
    np.testing.assert_allclose(adv, reference_advantages("grpo", **rows), rtol=1e-12)


def test_episode_output_with_memory_and_similar_merging():
    rows = dict(group=[0, 0, 0, 0, 0], trajectory=[0, 0, 1, 1, 1], state=["s0", "s1", "s0", "s2", "s3"],
                success=[1, 1, 0, 0, 0], valid=[1, 1, 0, 1, 1])
    plain = graphgpo.advantages("grpo", **{**rows, "valid": None})
    memory = graphgpo.GraphMemory()
    for _ in range(2):  # the second call reads the first call's edges: the step term changes, A_E does not
        _, episode = graphgpo.advantages("graphgpo", **rows, memory=memory, return_episode=True)
        np.testing.assert_array_equal(episode, plain)
    _, episode = graphgpo.advantages("graphgpo", **rows, merge="similar", similarity=0.5, return_episode=True)
    np.testing.assert_array_equal(episode, plain)


def test_empty_batch_and_errors():
    adv, episode = graphgpo.advantages("graphgpo", group=[], trajectory=[], state=[], success=[],
                                       return_episode=True)
    assert adv.shape == episode.shape == (0,)
    with pytest.raises(ValueError, match="success"):
        graphgpo.advantages("grpo", group=[0, 0], trajectory=[0, 0], state=["a", "b"], success=[1, 0],
                            return_episode=True)
