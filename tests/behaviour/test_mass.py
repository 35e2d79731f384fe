"""Expected session mass from the chain: hand-worked chains, the fundamental matrix, and Monte Carlo."""

import numpy as np
import pytest

from phantom_lib.behaviour import load_behaviour
from phantom_lib.behaviour.kernels import FactorisedChain, Kernel, sample_paths
from phantom_lib.behaviour.markov import absorbing_chain
from phantom_lib.behaviour.mass import (
    class_masses,
    mixture_mass,
    predicted_revenue,
    session_mass,
)
from phantom_lib.data.events import CHECKOUT, weights_of

# page_view (nav, omega 1), checkout_start (cart, omega 4), session_end
LABELS = ("page_view", CHECKOUT, "session_end")


def loop(p: float) -> Kernel:
    """page_view repeats with probability p, else the session ends."""
    return Kernel(LABELS, [[p, 0, 1 - p], [0, 0, 1], [0, 0, 1]], [1, 0, 0])


@pytest.mark.parametrize("p, length", [(0.0, 40), (0.5, 3), (0.9, 40), (0.9, 1), (1.0, 7)])
def test_geometric_session_has_a_truncated_geometric_mass(p: float, length: int):
    # position t is recorded with probability p^t, t < L: sum = (1 - p^L) / (1 - p) (L when p = 1)
    expected = length if p == 1 else (1 - p**length) / (1 - p)
    result = session_mass(loop(p), max_len=length)
    assert result.mass == pytest.approx(expected, rel=1e-12)
    assert result.states == pytest.approx(expected, rel=1e-12)


def test_checkout_is_recorded_with_its_cart_weight_then_ends_the_session():
    # page_view -> checkout_start -> page_view -> ... ; the stop rule cuts after the checkout
    alternating = Kernel(LABELS, [[0, 1, 0], [1, 0, 0], [0, 0, 1]], [1, 0, 0])
    assert session_mass(alternating).mass == pytest.approx(1 + 4)
    assert session_mass(alternating).states == pytest.approx(2)
    assert session_mass(alternating, max_len=1).mass == pytest.approx(1)
    assert session_mass(alternating, max_len=4, stop=()).mass == pytest.approx(1 + 4 + 1 + 4)


def test_a_session_starting_at_checkout_records_it_alone_and_end_starts_record_nothing():
    starts = Kernel(LABELS, [[0.5, 0.25, 0.25], [1, 0, 0], [0, 0, 1]], [0, 0.6, 0.4])
    assert session_mass(starts).mass == pytest.approx(0.6 * 4)
    assert session_mass(starts).states == pytest.approx(0.6)


@pytest.fixture(scope="module")
def standin():
    return load_behaviour("standin")


@pytest.mark.parametrize("cls", ["human", "agent"])
def test_long_horizon_mass_equals_the_fundamental_matrix_result(standin, cls: str):
    # independent method: N = (I - Q)^-1 with checkout absorbing; an absorbed checkout is recorded
    kernel = getattr(standin, cls)
    chain = absorbing_chain(kernel, [CHECKOUT])
    weights = dict(zip(kernel.labels, weights_of(kernel.labels)))
    closed = sum(v * weights[s] for s, v in zip(chain.transient, chain.visits)) + 4.0 * chain.absorbed_in(CHECKOUT)
    result = session_mass(kernel, max_len=2000)
    assert result.mass == pytest.approx(closed, rel=1e-9)
    assert result.states == pytest.approx(chain.expected_length, rel=1e-9)
    assert session_mass(kernel).mass < result.mass  # the L_max = 40 cap removes a little mass


@pytest.mark.parametrize("cls", ["human", "agent"])
def test_mass_matches_monte_carlo_sessions_within_4_se(standin, cls: str):
    kernel = getattr(standin, cls)
    weights = weights_of(kernel.labels)
    paths = sample_paths(kernel.matrix, kernel.pi0, 40_000, np.random.default_rng(11), 40, kernel.end,
                         [kernel.index(CHECKOUT)])
    per_session = np.where(paths >= 0, weights[np.maximum(paths, 0)], 0.0).sum(axis=1)
    mean, se = per_session.mean(), per_session.std(ddof=1) / np.sqrt(per_session.size)
    exact = session_mass(kernel).mass
    assert abs(mean - exact) < 4 * se, (mean, exact, se)
    # power: the same sample rejects the mass without the stop rule (sessions run past a checkout)
    wrong = session_mass(kernel, stop=()).mass
    assert abs(mean - wrong) > 4 * se, (mean, wrong, se)


def test_class_masses_frame_holds_both_classes(standin):
    frame = class_masses(standin)
    assert list(frame.index) == ["human", "agent"]
    assert frame.loc["agent", "mass"] == pytest.approx(session_mass(standin.agent).mass)
    assert frame.loc["human", "states"] == pytest.approx(session_mass(standin.human).states)


def test_predicted_revenue_at_zero_demand_is_the_mean_price_times_the_mixture_mass():
    prices = np.array([140.0, 150.0, 146.0])
    alpha = np.array([0.0, 0.3, 1.0])
    np.testing.assert_allclose(predicted_revenue(prices, alpha, 20.0, 12.0),
                               prices.mean() * np.array([20.0, 0.7 * 20 + 0.3 * 12, 12.0]))


def test_predicted_revenue_weights_each_class_by_its_own_demand_condition():
    prices = np.array([10.0, 30.0])
    demand = np.array([[1.0, 3.0], [0.0, 0.0]])  # humans: c = (1/4, 3/4); agents: uniform
    # 0.5 * 8 * (10/4 + 90/4) + 0.5 * 2 * 20
    assert predicted_revenue(prices, 0.5, 8.0, 2.0, demand) == pytest.approx(0.5 * 8 * 25 + 0.5 * 2 * 20)


def test_predicted_revenue_matches_sampled_sessions_with_products(standin):
    # the product of every state is drawn from c, whatever the path: E[sum omega p] = m (p . c)
    rng = np.random.default_rng(5)
    prices = rng.uniform(10, 150, 6)
    demand = rng.uniform(0, 1, 6)
    chain = FactorisedChain(standin.human, demand)
    events, products = chain.sample(40_000, rng)
    weights = weights_of(standin.labels)
    recorded = events >= 0
    revenue = np.where(recorded, weights[np.maximum(events, 0)] * prices[np.maximum(products, 0)], 0.0).sum(axis=1)
    mean, se = revenue.mean(), revenue.std(ddof=1) / np.sqrt(revenue.size)
    predicted = predicted_revenue(prices, 0.0, session_mass(standin.human).mass, 0.0, np.stack([demand, demand]))
    assert abs(mean - predicted) < 4 * se, (mean, predicted, se)


@pytest.mark.parametrize("call, message", [
    (lambda: session_mass(loop(0.5), max_len=0), "max_len"),
    (lambda: mixture_mass([0.5, 1.2], 1.0, 1.0), "alpha must lie in"),
    (lambda: predicted_revenue([10.0, 20.0], 0.5, 1.0, 1.0, np.ones((2, 3))), r"shape \(2, 2\)"),
    (lambda: predicted_revenue([], 0.5, 1.0, 1.0), "non-empty"),
])
def test_bad_input_is_a_clear_error(call, message: str):
    with pytest.raises(ValueError, match=message):
        call()
