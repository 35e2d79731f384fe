"""Exact sampling by sufficient statistics in the numpy backend (Model reference, section 11).

A market draw depends on its sessions only through each path's f and per-category state counts
and on the products of the states, i.i.d. from the class's demand condition: so one
Multinomial(n_{k,Y,g}, c_Y) per candidate, class and weight category replaces one product draw
per state. Checked here against the per-state walk (``PerStateSampler``) with large samples and
power checks, by hand on the pieces, and for the pool reuse option (``path_reuse``): each draw
keeps its exact distribution, and the dependence it adds between draws is the size claimed.
"""

import numpy as np
import pytest
from _checks import ALPHA, chi2_same, differing, same_distribution, sampler_draws
from _simulator_cases import behaviour

from phantom_lib.sim.market import MarketConfig, normalised_proxy, weight_categories
from phantom_lib.sim.samplers import numpy as numpy_backend
from phantom_lib.sim.samplers.numpy import NumpySampler, PerStateSampler

PRICES = np.array([40.0, 55.0, 70.0])
ALPHAS = np.array([0.2, 0.6])
CONFIG = MarketConfig(n_products=3, n_sessions=10)


@pytest.fixture(scope="module")
def beh():
    return behaviour()


def test_weight_categories_by_hand():
    weights = np.array([4.0, 2.0, 1.0, 0.5, 1.0, 4.0, 1.0])  # the last state is session_end
    omega, category = weight_categories(weights, end=6)
    np.testing.assert_array_equal(omega, [0.5, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(category, [3, 2, 1, 0, 1, 3, 1])


class SwappedConditions(NumpySampler):
    """A sampler with a plausible bug: each class's products drawn from the other class's c."""

    def sample_at(self, demand, alphas, rng):
        return super().sample_at(demand[::-1].copy(), alphas, rng)


@pytest.fixture(scope="module")
def numpy_draws(beh):
    n = 6000
    return {
        "per-state": sampler_draws(PerStateSampler(beh, CONFIG), PRICES, ALPHAS, n, 1),
        "sufficient": sampler_draws(NumpySampler(beh, CONFIG), PRICES, ALPHAS, n, 2),
        "swapped": sampler_draws(SwappedConditions(beh, CONFIG), PRICES, ALPHAS, n, 3),
    }


def test_multinomials_give_the_per_state_distribution(numpy_draws):
    assert differing(numpy_draws["per-state"], numpy_draws["sufficient"]) == []


def test_the_comparison_detects_products_drawn_from_the_wrong_class(numpy_draws):
    """Power: with 6000 draws the same checks reject a sampler that draws each class's products
    from the other class's demand condition (q differs, f does not)."""
    found = differing(numpy_draws["per-state"], numpy_draws["swapped"])
    assert {name for name, _ in found} >= {"q"} and ("f", 0) not in found


def test_sessions_aggregate_to_the_per_state_sampler(beh):
    """The per-session walk consumers use (the defence experiment) draws exactly what the
    per-state sampler aggregates, from the same generator state."""
    prices = np.array([20.0, 40.0, 60.0])
    sampler = PerStateSampler(beh, CONFIG)
    rng = np.random.default_rng(11)
    market = sampler.sample(prices, [0.4], rng)
    other = NumpySampler(beh, CONFIG)
    rng = np.random.default_rng(11)
    demand = other.draw_demand(prices, rng)
    classes = (np.arange(10) < 4).astype(np.int64)
    paths, products = other.sessions(classes, demand / demand.sum(axis=1, keepdims=True), rng)
    recorded = paths >= 0
    q_hat = np.bincount(products[recorded], weights=beh.weights[paths[recorded]], minlength=3)
    np.testing.assert_allclose(normalised_proxy(np, q_hat), market.q[0], rtol=1e-12)


def test_every_fresh_path_is_used_once(beh):
    """path_reuse = 1: the sessions of successive draws are successive fresh paths of the pool."""
    sampler = NumpySampler(beh, CONFIG)
    rng = np.random.default_rng(0)
    sampler.sample(PRICES, ALPHAS, rng)
    human = sampler._fresh[0]
    per_draw = (10 - 2) + (10 - 6)
    # AHEAD draws prepared (12 * 64 < POOL_BLOCK), from unused paths
    assert human.start == per_draw * numpy_backend.AHEAD
    assert sampler._reused[0].size == 0


# --------------------------------------------------------------------------------------------
# path_reuse > 1: windows into a reused pool


@pytest.fixture()
def small_pools(monkeypatch):
    """Blocks of 64 paths, one block per pool: pools small enough to see their dependence."""
    monkeypatch.setattr(numpy_backend, "POOL_BLOCK", 64)
    monkeypatch.setattr(numpy_backend, "POOL_BLOCKS", 1)


def _first_draws(beh, n_pools, size=64, seed=0):
    """Two draws from each of ``n_pools`` fresh pools (a new generator empties the pools)."""
    numpy_backend.POOL_BLOCK = size
    sampler = NumpySampler(beh, MarketConfig(n_products=3, n_sessions=10, path_reuse=8))
    seeds = np.random.SeedSequence(seed).spawn(n_pools)
    pairs = []
    for s in seeds:
        rng = np.random.default_rng(s)
        pairs.append([sampler.sample(PRICES, [0.0], rng) for _ in range(2)])
    return pairs


def test_reused_pool_draws_keep_the_exact_distribution(beh, small_pools):
    """Each draw from a pool of 64 paths is exact: first draws of fresh pools against the
    per-state sampler (independent draws both sides)."""
    pairs = _first_draws(beh, 1500)
    first = np.array([p[0].f[0] for p in pairs])
    states = np.array([p[0].n_states[0] for p in pairs])
    base = [PerStateSampler(beh, CONFIG).sample(PRICES, [0.0], np.random.default_rng(s)) for s in range(1500)]
    assert same_distribution(first, [b.f[0] for b in base])
    assert chi2_same(states // 10, np.array([b.n_states[0] for b in base]) // 10) > ALPHA


def _window_correlation(pool: int, window: int) -> float:
    """Corr of two windows' sums of i.i.d. session statistics: E[overlap] / window, offsets
    independent and uniform on [0, pool - window]."""
    offsets = np.arange(pool - window + 1)
    overlap = np.maximum(0, window - np.abs(offsets[:, None] - offsets[None, :]))
    return float(overlap.mean() / window)


def test_reused_pool_dependence_is_as_claimed(beh, small_pools):
    """Two draws from one pool share paths: the correlation of their states totals equals
    E[overlap] / W (W = 10 human sessions per draw; pool 64: about 0.1), and a pool of 1024
    shrinks it to about 0.01."""
    for size, n_pools in ((64, 2000), (1024, 2000)):
        pairs = _first_draws(beh, n_pools, size=size, seed=size)
        a = np.array([p[0].n_states[0] for p in pairs], dtype=float)
        b = np.array([p[1].n_states[0] for p in pairs], dtype=float)
        corr = np.corrcoef(a, b)[0, 1]
        claimed = _window_correlation(size, 10)
        se = (1 - claimed**2) / np.sqrt(n_pools)
        assert abs(corr - claimed) < 4 * se, (size, corr, claimed)
    assert _window_correlation(64, 10) > 0.1 > 0.02 > _window_correlation(1024, 10)
