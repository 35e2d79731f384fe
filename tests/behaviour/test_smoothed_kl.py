"""Class KL under additive (Dirichlet) smoothing, against hand-computed cases and the eps floor."""

import math

import numpy as np
import pandas as pd
import pytest

from phantom_lib.behaviour.class_divergence import (
    class_kl,
    describe,
    smoothed_class_kl,
    smoothed_state_kl,
)
from phantom_lib.behaviour.kernels import (
    KernelError,
    estimate_by_class,
    from_counts,
)


def table(sessions: dict[str, tuple[str, list[str]]]) -> pd.DataFrame:
    return pd.DataFrame([
        {"trajectory": tid, "actor": actor, "step": i, "event": e}
        for tid, (actor, events) in sessions.items()
        for i, e in enumerate(events)
    ])


@pytest.fixture()
def kernels():
    # human: a a a  -> state-to-state row a = [a: 2, b: 0]; b never a source
    # agent: a a | a b -> row a = [a: 1, b: 1]; b only moves to session_end (not a state-to-state source)
    t = table({"h": ("human", ["a", "a", "a"]), "g1": ("agent", ["a", "a"]), "g2": ("agent", ["a", "b"])})
    ks = estimate_by_class(t)
    assert ks["human"].labels == ("a", "b", "session_end")
    return ks["human"], ks["agent"]


def test_laplace_smoothing_by_hand(kernels):
    human, agent = kernels
    # a = 1: human row a (3/4, 1/4), agent row a (1/2, 1/2)
    forward = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    backward = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert smoothed_class_kl(human, agent, 1.0) == pytest.approx(forward, rel=1e-12)
    assert smoothed_class_kl(agent, human, 1.0) == pytest.approx(backward, rel=1e-12)
    per_state = smoothed_state_kl(human, agent, 1.0)
    assert list(per_state.index) == ["a", "b"]
    assert per_state["a"] == pytest.approx(forward, rel=1e-12)
    assert np.isnan(per_state["b"])  # no state-to-state move out of b in either class


def test_jeffreys_smoothing_by_hand(kernels):
    human, agent = kernels
    # a = 1/2: human row a (5/6, 1/6), agent row a (1/2, 1/2)
    expected = 5 / 6 * math.log(5 / 3) + 1 / 6 * math.log(1 / 3)
    assert smoothed_class_kl(human, agent, 0.5) == pytest.approx(expected, rel=1e-12)


def test_the_floor_charges_a_sampling_zero_about_23_p_nats_and_smoothing_does_not(kernels):
    human, agent = kernels
    # agent -> human: the agent's a -> b (p = 1/2) was never made by the human class
    floor = class_kl(agent, human)
    assert floor == pytest.approx(0.5 * math.log(0.5) + 0.5 * math.log(0.5 / 1e-10), rel=1e-6)
    assert floor > 10
    assert smoothed_class_kl(agent, human, 0.5) < 0.5


def test_vanishing_pseudocount_recovers_the_plain_kl_when_supports_are_full():
    labels = ("a", "b", "session_end")
    counts_p = np.array([[30.0, 10.0, 5.0], [4.0, 12.0, 3.0], [0.0, 0.0, 0.0]])
    counts_q = np.array([[10.0, 20.0, 5.0], [9.0, 9.0, 2.0], [0.0, 0.0, 0.0]])
    p = from_counts(labels, counts_p, np.array([1.0, 0.0, 0.0]))
    q = from_counts(labels, counts_q, np.array([1.0, 0.0, 0.0]))
    assert smoothed_class_kl(p, q, 1e-9) == pytest.approx(class_kl(p, q), rel=1e-7)
    # a huge prior swamps the counts: both rows become uniform
    assert smoothed_class_kl(p, q, 1e9) == pytest.approx(0.0, abs=1e-12)


def test_smoothed_kl_is_non_negative_and_zero_only_for_equal_rows():
    rng = np.random.default_rng(4)
    labels = ("a", "b", "c", "session_end")
    for _ in range(50):
        counts = rng.integers(0, 6, size=(4, 4)).astype(float)
        counts[3] = 0.0
        p = from_counts(labels, counts, np.array([1.0, 0, 0, 0]))
        q = from_counts(labels, rng.permutation(counts[:3]).tolist() + [[0, 0, 0, 0]], np.array([1.0, 0, 0, 0]))
        values = smoothed_state_kl(p, q, 0.5).dropna()
        assert (values >= -1e-15).all()
    same = from_counts(
        labels, np.array([[1.0, 2, 0, 1], [0, 0, 3, 1], [2, 0, 0, 1], [0, 0, 0, 0]]), np.array([1.0, 0, 0, 0])
    )
    assert smoothed_class_kl(same, same, 0.5) == 0.0


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), True])
def test_bad_pseudocount_is_a_clear_error(kernels, bad):
    human, agent = kernels
    with pytest.raises(ValueError, match="pseudocount"):
        smoothed_class_kl(human, agent, bad)


def test_kernels_over_different_states_are_refused(kernels):
    human, _ = kernels
    other = from_counts(("x", "session_end"), np.array([[1.0, 1.0], [0.0, 0.0]]), np.array([1.0, 0.0]))
    with pytest.raises(KernelError, match="same state order"):
        smoothed_state_kl(human, other)


def test_describe_sets_the_smoothed_class_kl_beside_the_floor(kernels):
    human, agent = kernels
    row = describe({"human": human, "agent": agent}, pseudocount=1.0)
    assert row["KL(T_H || T_A)"] == pytest.approx(math.log(2), rel=1e-6)
    assert row["KL(T_H || T_A), Dirichlet a = 1"] == pytest.approx(
        0.75 * math.log(1.5) + 0.25 * math.log(0.5), rel=1e-12
    )
    assert "KL(T_A || T_H), Dirichlet a = 1" in row and "KL(T_H || T_A), Dirichlet a = 1" not in describe(
        {"human": human, "agent": agent}
    )
