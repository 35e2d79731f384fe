"""KL divergence, gaps and the agent probability against hand-computed cases."""

import numpy as np

from phantom_lib.behaviour.distinguish import (
    EPS,
    agent_probability,
    divergence,
    gaps,
    pair_counts,
)


def test_pair_counts_by_hand():
    paths = np.array([[0, 1, 1, 2, -1], [2, -1, -1, -1, -1]])
    c = pair_counts(paths, 3)
    assert c.shape == (2, 3, 3)
    expected = np.zeros((3, 3))
    expected[0, 1] = expected[1, 1] = expected[1, 2] = 1
    np.testing.assert_array_equal(c[0], expected)
    assert c[1].sum() == 0


def kl(p, q):
    return sum((pk + EPS) * np.log((pk + EPS) / (qk + EPS)) for pk, qk in zip(p, q) if pk > 0)


def test_divergence_by_hand_with_zero_destinations_and_missing_sources():
    # session: source 0 -> {1: 1/2, 2: 1/2}; source 1 -> {0: 1}; source 2 unobserved
    session = np.zeros((1, 3, 3))
    session[0, 0, 1] = session[0, 0, 2] = 1
    session[0, 1, 0] = 2
    # centroid: source 0 -> {1: 1}  (q = 0 at destination 2); source 1 unobserved; source 2 -> {0: 1}
    centroid = np.zeros((3, 3))
    centroid[0, 1] = 4
    centroid[2, 0] = 1
    # only source 0 is shared
    expected = kl([0, 0.5, 0.5], [0, 1, 0])
    np.testing.assert_allclose(divergence(session, centroid), [expected], rtol=1e-12)
    assert expected > 10  # the zero-probability destination dominates: log(0.5/1e-10)


def test_no_shared_source_gives_nan_not_a_crash():
    session = np.zeros((2, 2, 2))
    session[0, 1, 0] = 1
    centroid = np.zeros((2, 2))
    centroid[0, 1] = 1
    assert np.isnan(divergence(session, centroid)).all()


def test_gap_sign_and_sigmoid():
    human = np.array([[0, 9, 1], [1, 0, 9], [9, 1, 0]], dtype=float)
    agent = human.T.copy()
    human_like = np.zeros((1, 3, 3))
    human_like[0] = human
    agent_like = np.zeros((1, 3, 3))
    agent_like[0] = agent
    assert gaps(human_like, human, agent)[0] < 0 < gaps(agent_like, human, agent)[0]
    np.testing.assert_allclose(agent_probability([0.0, np.log(3.0), -np.log(3.0)]), [0.5, 0.75, 0.25])
    np.testing.assert_allclose(agent_probability([2.0], temperature=2.0), [1 / (1 + np.exp(-1))])


def test_path_gaps_equal_the_dense_gaps_on_random_paths():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from phantom_lib.behaviour.kl import path_gaps

    @settings(max_examples=60, deadline=None)
    @given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 12), st.integers(2, 6))
    def check(seed, n, length, s):
        rng = np.random.default_rng(seed)
        paths = rng.integers(0, s, size=(n, length))
        ends = rng.integers(0, length + 1, size=n)
        paths[np.arange(length)[None, :] >= ends[:, None]] = -1
        human = rng.integers(0, 4, size=(s, s)).astype(float)
        agent = rng.integers(0, 4, size=(s, s)).astype(float)
        human[rng.integers(0, s)] = 0.0  # a source the centroid never saw
        dense = gaps(pair_counts(paths, s), human, agent)
        sparse = path_gaps(paths, human, agent)
        np.testing.assert_array_equal(np.isnan(dense), np.isnan(sparse))
        np.testing.assert_allclose(sparse[~np.isnan(sparse)], dense[~np.isnan(dense)], rtol=1e-12, atol=1e-12)

    check()
