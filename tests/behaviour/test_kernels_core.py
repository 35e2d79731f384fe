"""Core kernel estimation against hand-computed small cases."""

import numpy as np
import pandas as pd
import pytest

from phantom_lib.behaviour.kernels import (
    Kernel,
    KernelError,
    estimate_by_class,
    estimate_kernel,
)


def table(sessions: dict[str, list[str]], actor: str = "human") -> pd.DataFrame:
    rows = [
        {"trajectory": tid, "actor": actor, "step": i, "event": e}
        for tid, events in sessions.items()
        for i, e in enumerate(events)
    ]
    return pd.DataFrame(rows)


def test_mle_on_three_hand_built_sessions():
    # a b a | a b | b   -> transitions a->b x2, b->a x1, a->end x1, b->end x2 ; first a,a,b
    t = table({"s1": ["a", "b", "a"], "s2": ["a", "b"], "s3": ["b"]})
    k = estimate_kernel(t)
    assert k.labels == ("a", "b", "session_end")
    expected = np.array([[0, 2 / 3, 1 / 3], [1 / 3, 0, 2 / 3], [0, 0, 1]])
    np.testing.assert_allclose(k.matrix, expected, atol=1e-15)
    np.testing.assert_allclose(k.pi0, [2 / 3, 1 / 3, 0])
    np.testing.assert_array_equal(k.counts, [[0, 2, 1], [1, 0, 2], [0, 0, 0]])


def test_row_order_of_the_table_does_not_matter():
    t = table({"s1": ["a", "b", "a"], "s2": ["a", "b"], "s3": ["b"]})
    shuffled = t.sample(frac=1.0, random_state=3)
    np.testing.assert_array_equal(estimate_kernel(shuffled).counts, estimate_kernel(t).counts)


def test_unobserved_rows_go_to_session_end_and_smoothing_keeps_them():
    t = table({"s1": ["a", "b"]})
    k = estimate_kernel(t, labels=("a", "b", "c", "session_end"), smoothing=1.0)
    np.testing.assert_allclose(k.matrix[0], [1 / 5, 2 / 5, 1 / 5, 1 / 5])  # (0,1,0,0)+1 / 5
    np.testing.assert_allclose(k.matrix[2], [0, 0, 0, 1])  # c never seen
    np.testing.assert_allclose(k.matrix[3], [0, 0, 0, 1])


def test_classes_share_one_state_order():
    t = pd.concat([table({"h": ["a", "b"]}, "human"), table({"g": ["c"]}, "agent")])
    ks = estimate_by_class(t)
    assert ks["human"].labels == ks["agent"].labels == ("a", "b", "c", "session_end")


@pytest.mark.parametrize(
    ("matrix", "pi0", "message"),
    [
        ([[0.5, 0.6], [0, 1]], [1, 0], "rows must sum to 1"),
        ([[1.5, -0.5], [0, 1]], [1, 0], "negative entries"),
        ([[np.nan, 1], [0, 1]], [1, 0], "non-finite"),
        ([[1, 0], [0, 1]], [0.5, 0.6], "pi0 must sum to 1"),
        ([[0, 1], [1, 0]], [1, 0], "must be absorbing"),
        ([[1.0]], [1], r"shape \(2, 2\)"),
    ],
)
def test_invalid_kernels_are_rejected(matrix, pi0, message):
    with pytest.raises(KernelError, match=message):
        Kernel(("a", "session_end"), np.array(matrix, dtype=float), np.array(pi0, dtype=float))


def test_duplicate_labels_and_missing_end_are_rejected():
    with pytest.raises(KernelError, match="unique"):
        Kernel(("a", "a", "session_end"), np.eye(3), np.array([1.0, 0, 0]))
    with pytest.raises(KernelError, match="absorbing state 'session_end'"):
        Kernel(("a", "b"), np.eye(2), np.array([1.0, 0]))


def test_missing_columns_name_the_fix():
    with pytest.raises(KeyError, match="lacks column"):
        estimate_kernel(pd.DataFrame({"event": ["a"]}))


def test_sample_paths_matches_the_chain_statistically():
    from scipy import stats

    from phantom_lib.behaviour.kernels import sample_paths

    matrix = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0, 0, 1.0]])
    pi0 = np.array([0.7, 0.3, 0.0])
    paths = sample_paths(matrix, pi0, 20000, np.random.default_rng(1), max_len=30, end=2)
    first = np.bincount(paths[:, 0], minlength=2)
    assert stats.chisquare(first, 20000 * pi0[:2]).pvalue > 1e-3
    a, b = paths[:, :-1].ravel(), paths[:, 1:].ravel()
    from_a = b[(a == 0)]
    observed = [(from_a == 0).sum(), (from_a == 1).sum(), (from_a == -1).sum()]
    # a path ending after state 0 pads with -1: that is the move to the absorbing end (or the L cap)
    capped = (paths[:, -1] == 0).sum()
    observed[2] -= capped
    assert stats.chisquare(observed, np.array(observed).sum() * matrix[0]).pvalue > 1e-3
    # expected length from the fundamental matrix: N = (I - Q)^-1, length = pi0' N 1
    q = matrix[:2, :2]
    length = pi0[:2] @ np.linalg.inv(np.eye(2) - q) @ np.ones(2)
    lengths = (paths >= 0).sum(axis=1)
    assert abs(lengths.mean() - length) < 4 * lengths.std() / np.sqrt(lengths.size)


def test_sample_paths_stops_after_a_stop_state_and_is_seeded():
    from phantom_lib.behaviour.kernels import sample_paths

    matrix = np.array([[0, 1.0, 0], [0, 0, 1.0], [0, 0, 1.0]])
    paths = sample_paths(matrix, np.array([1.0, 0, 0]), 3, np.random.default_rng(0), max_len=5, end=2, stop=[1])
    np.testing.assert_array_equal(paths, [[0, 1, -1, -1, -1]] * 3)
    m = np.array([[0.5, 0.5, 0], [0.2, 0.3, 0.5], [0, 0, 1.0]])
    p0 = np.array([0.5, 0.5, 0])
    one = sample_paths(m, p0, 50, np.random.default_rng(7), end=2)
    two = sample_paths(m, p0, 50, np.random.default_rng(7), end=2)
    np.testing.assert_array_equal(one, two)
