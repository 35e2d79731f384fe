"""The oracle (Model reference, section 12): optimal prices from the model, checked against
brute-force simulation, an N-D search, the action space by hand and the alpha = 0 identity."""

import numpy as np
import pytest

from phantom_lib.behaviour import load_behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.oracle import (
    SalesModel,
    contamination_map,
    held_prices,
    nd_optimum,
    oracle,
    symmetric_optimum,
)
from phantom_lib.sim.samplers import make_sampler

RESPONSIVE = {"proxy": "mass", "visits": "price_responsive"}


@pytest.fixture(scope="module")
def standin():
    return load_behaviour("standin")


def test_symmetric_fast_path_equals_the_general_evaluation(standin):
    model = SalesModel.of(standin, EnvConfig().replace(n_products=3, agent_mu=30.0, **RESPONSIVE), n_draws=4000)
    prices = np.array([12.0, 25.0, 47.5, 80.0])
    for objective in ("sales", "sales_profit", "proxy"):
        general = model.objective(np.multiply.outer(prices, np.ones(3)), 0.4, objective)
        np.testing.assert_allclose(model.symmetric_objective(prices, 0.4, objective), general, rtol=1e-9)


def test_optimum_against_a_brute_force_grid_of_simulated_sales(standin):
    """Simulated sales revenue (numpy backend, 1,500 draws per price) on a grid of common prices:
    the simulated revenue at the grid point nearest the oracle's p* is within 2 SE of the best
    simulated point, and the grid's far points are clearly worse (so the check can fail)."""
    config = EnvConfig().replace(n_products=4, n_sessions=100, **RESPONSIVE)
    model = SalesModel.of(standin, config)
    best = symmetric_optimum(model, 0.3)
    grid = np.arange(15.0, 40.1, 2.5)
    sampler = make_sampler("numpy", standin, config.market)
    means, ses = [], []
    for price in grid:
        prices, rng = np.full(4, price), np.random.default_rng(7)
        revenue = np.array([sampler.sample(prices, [0.3], rng).sales[0] @ prices for _ in range(1500)])
        means.append(revenue.mean())
        ses.append(revenue.std(ddof=1) / np.sqrt(revenue.size))
    means, ses = np.array(means), np.array(ses)
    top, near = int(np.argmax(means)), int(np.argmin(np.abs(grid - best.price)))
    assert means[top] - means[near] <= 2 * np.hypot(ses[top], ses[near]), (grid[top], best.price, means)
    assert means[top] - max(means[0], means[-1]) > 4 * np.hypot(ses[top], max(ses[0], ses[-1]))


@pytest.mark.parametrize("n_products", [2, 3])
def test_symmetric_optimum_is_the_nd_optimum(standin, n_products):
    """On small N an L-BFGS-B search over [p_low, p_high]^N from random starts finds no better
    price vector than the best common price (within the Monte Carlo SE), and lands on a common price."""
    for alpha, fields in ((0.0, {}), (0.6, {"agent_mu": 30.0, "agent_sd": 5.0}), (1.0, {"agents_buy": True})):
        model = SalesModel.of(standin, EnvConfig().replace(n_products=n_products, **fields, **RESPONSIVE), n_draws=4000)
        sym, nd = symmetric_optimum(model, alpha), nd_optimum(model, alpha, starts=3)
        se = float(model.expected(nd.prices, alpha)["sales_se"].iloc[0])
        assert nd.value <= sym.value + se, (alpha, sym, nd)
        assert np.ptp(nd.prices) < 1.0, nd.prices


def test_at_alpha_zero_the_proxy_and_sales_optima_coincide(standin):
    """Without agents both revenues weight one class, so they share their maximiser, whatever the
    agents would be; with many agents valuing products far above people and not buying, they part."""
    model = SalesModel.of(standin, EnvConfig().replace(agent_mu=90.0, agent_sd=5.0, agents_buy=False, **RESPONSIVE))
    at_zero = oracle(model, 0.0)
    assert at_zero.proxy.price == pytest.approx(at_zero.best.price, abs=0.01)
    assert at_zero.gap == pytest.approx(0.0, abs=1e-3) and at_zero.gap_share == pytest.approx(0.0, abs=1e-5)
    contaminated = oracle(model, 0.5)
    assert contaminated.proxy.price > contaminated.best.price + 2.0 and contaminated.gap_share > 0.01


def test_a_linear_demand_monopolist_prices_at_half_the_valuation(standin):
    """Humans only, valuations almost exactly 50 on every product: rho p = p (50 - p) / 50, so
    p* = 25 (the textbook monopoly price); the proxy (same class) agrees."""
    model = SalesModel.of(
        standin, EnvConfig().replace(n_products=3, human_sd=0.01, noise_std=0.01, **RESPONSIVE), n_draws=2000
    )
    result = oracle(model, 0.0)
    assert result.best.price == pytest.approx(25.0, abs=0.01) and result.proxy.price == pytest.approx(25.0, abs=0.01)
    beta_h, n = model.beta[0], 100
    assert result.best.value == pytest.approx(n * beta_h * 25.0 * 25.0 / 50.0, rel=1e-3)


def test_held_prices_by_hand():
    """Odd action levels contain the scale 1: every reached price is held, e.g. 150 * 0.8 = 120
    and 150 * 0.8 * 0.8 = 96; even levels hold only the bounds."""
    lattice = held_prices(EnvConfig(action_levels=9), depth=2)
    assert {10.0, 150.0, 120.0, 96.0, 142.5, 12.0} <= set(np.round(lattice, 9))
    assert lattice.min() == 10.0 and lattice.max() == 150.0
    np.testing.assert_array_equal(held_prices(EnvConfig(action_levels=4)), [10.0, 150.0])


def test_the_held_optimum_is_close_to_the_free_one_and_never_above_it(standin):
    model = SalesModel.of(standin, EnvConfig().replace(**RESPONSIVE), n_draws=5000)
    result = oracle(model, 0.25)
    assert result.held.value <= result.best.value + 1e-9
    assert abs(result.held.price - result.best.price) < 0.5
    bounds_only = oracle(SalesModel.of(standin, EnvConfig(action_levels=4).replace(**RESPONSIVE), n_draws=5000), 0.25)
    assert bounds_only.held.price == 10.0 and bounds_only.held.value < 0.9 * bounds_only.best.value


def test_contamination_map_rows_and_validation(standin):
    model = SalesModel.of(standin, EnvConfig().replace(n_products=3, **RESPONSIVE), n_draws=3000)
    frame = contamination_map(model, [0.0, 0.5], [30.0, 90.0], [5.0], (True, False))
    assert len(frame) == 2 * 2 * 1 * 2 and (frame["gap"] >= 0).all()
    assert frame.loc[frame.alpha == 0.0, "gap"].abs().max() < 1e-6
    with pytest.raises(ValueError, match="proxy = 'share'.*set proxy='mass'"):
        SalesModel.of(standin, EnvConfig())
