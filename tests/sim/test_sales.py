"""Sales (Model reference, section 12): purchases in every backend, agents_buy, reward_on.

Hand cases on deterministic paths (absorbed at checkout -> one unit of that state's product;
cut by L_max or ending elsewhere -> none), agents that never buy, the sales stream leaving the
proxy's draws alone, the reward on sales worked by hand, and the model's expected sales revenue
(:mod:`phantom_lib.sim.oracle`) against simulation in every backend: a z-test at ALPHA = 1e-3 whose
power to detect a 5 % error is computed from the sample and required to be at least 0.9.
"""

import dataclasses

import numpy as np
import pytest
from _checks import ALPHA, deterministic_behaviour
from _simulator_cases import behaviour
from scipy import stats

from phantom_lib.behaviour import class_masses, load_behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.dynamics import Market, PricingState, price_terms, robust_step
from phantom_lib.sim.gym_env import PhantomPricingEnv
from phantom_lib.sim.market import MarketConfig, absorbing_chains, search_cdf
from phantom_lib.sim.oracle import SalesModel
from phantom_lib.sim.samplers import BACKENDS, make_sampler
from phantom_lib.sim.samplers.numpy import PerStateSampler, walk

SAMPLERS = (*BACKENDS, "numpy-per-state")
RESPONSIVE = {"proxy": "mass", "visits": "price_responsive"}
EXACT = MarketConfig(n_products=3, n_sessions=10, human_sd=0.0, agent_sd=0.0, noise_std=0.0)
"""Valuations exactly 50 (humans) and 45 (agents) on every product, no noise."""

ERROR = 0.05
"""The relative error of expected sales the distribution tests must detect."""

POWER = 0.9
"""Their required power against that error."""


def sampler_of(name, beh, config):
    return PerStateSampler(beh, config) if name == "numpy-per-state" else make_sampler(name, beh, config)


def z_test(draws: np.ndarray, expected: float, expected_se: float) -> tuple[float, float]:
    """p-value of mean(draws) = expected (Monte Carlo SE of both) and the power of that test
    (two-sided, level ALPHA) against a relative error of ERROR."""
    se = np.hypot(draws.std(ddof=1) / np.sqrt(draws.size), expected_se)
    z = (draws.mean() - expected) / se
    crit = stats.norm.isf(ALPHA / 2)
    shift = ERROR * abs(expected) / se
    return float(2 * stats.norm.sf(abs(z))), float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


# --------------------------------------------------------------------------------------------
# hand cases


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_session_absorbed_at_checkout_buys_one_unit_of_that_states_product(name):
    """Agents walk view_item_page -> add_item_to_cart -> checkout_start, humans page_view ->
    hover_over_title -> end. At prices (60, 40, 60) only product 1 has demand for either class
    (valuations 50 and 45), so every state's product is 1: alpha 0.3 of M = 10 gives 3 agents,
    3 units of product 1; no human buys; alpha 0 sells nothing."""
    b = deterministic_behaviour()
    prices, rng = np.array([60.0, 40.0, 60.0]), np.random.default_rng(0)
    sample = sampler_of(name, b, EXACT).sample(prices, [0.3, 0.0, 1.0], rng)
    np.testing.assert_array_equal(sample.sales, [[0, 3, 0], [0, 0, 0], [0, 10, 0]])
    np.testing.assert_array_equal(sample.n_states, [7 * 2 + 3 * 3, 10 * 2, 10 * 3])


@pytest.mark.parametrize("name", SAMPLERS)
def test_a_session_cut_by_l_max_before_checkout_does_not_buy(name):
    """With L_max = 2 the agents record view_item_page, add_item_to_cart and stop before
    checkout: no sale, and beta_A = 0 by the chain as well."""
    b = deterministic_behaviour()
    config = dataclasses.replace(EXACT, max_len=2)
    sample = sampler_of(name, b, config).sample(np.array([60.0, 40.0, 60.0]), [1.0], np.random.default_rng(0))
    assert sample.sales.sum() == 0 and sample.n_states.tolist() == [20]
    assert class_masses(b, max_len=2).loc["agent", "checkout"] == 0
    assert class_masses(b, max_len=3).loc["agent", "checkout"] == 1


@pytest.mark.parametrize("name", SAMPLERS)
def test_agents_that_do_not_buy_still_move_the_proxy(name):
    b = deterministic_behaviour()
    prices = np.array([60.0, 40.0, 60.0])
    buying = sampler_of(name, b, EXACT).sample(prices, [0.3, 1.0], np.random.default_rng(1))
    browsing = sampler_of(name, b, dataclasses.replace(EXACT, agents_buy=False)).sample(
        prices, [0.3, 1.0], np.random.default_rng(1)
    )
    assert buying.sales.sum() == 3 + 10 and browsing.sales.sum() == 0
    np.testing.assert_allclose(browsing.q, buying.q, rtol=1e-6)
    assert browsing.q[1].sum() > 0


def test_agents_buy_is_validated():
    with pytest.raises(ValueError, match=r"MarketConfig.agents_buy = 'no': expected True or False"):
        MarketConfig(agents_buy="no")
    assert MarketConfig().agents_buy is True and MarketConfig(agents_buy=False).buyers.tolist() == [1.0, 0.0]


def test_the_sales_stream_leaves_the_proxys_draws_alone():
    """agents_buy changes the sales drawn (agents' purchases or none), not the proxy: an
    episode's observations and proxy revenue are identical either way, on the stand-in, so the
    numpy backend's sales draw nothing from the market's own stream."""
    beh = load_behaviour("standin")
    runs = []
    for buy in (True, False):
        env = PhantomPricingEnv(EnvConfig().replace(n_products=4, n_sessions=30, agents_buy=buy, **RESPONSIVE), beh)
        obs, _ = env.reset(seed=5)
        rows = []
        for t in range(12):
            obs, _, _, _, info = env.step(t % 9)
            rows.append(np.append(obs, [info["revenue"], info["units_sold"]]))
        runs.append(np.array(rows))
    np.testing.assert_array_equal(runs[0][:, :-1], runs[1][:, :-1])
    assert runs[0][:, -1].sum() > runs[1][:, -1].sum() > 0  # with agents buying, more units


def test_the_jax_sales_blocks_leave_the_proxys_draws_alone():
    """The same for the jax backend's market draw (what its env steps call): q, f and states
    are equal whether agents buy or not."""
    beh = load_behaviour("standin")
    config = MarketConfig(n_products=4, n_sessions=30, **RESPONSIVE)
    prices, alphas = np.array([20.0, 30.0, 40.0, 50.0]), [0.2, 0.6]
    draws = []
    for buy in (True, False):
        sampler, rng = make_sampler("jax", beh, dataclasses.replace(config, agents_buy=buy)), np.random.default_rng(4)
        draws.append([sampler.sample(prices, alphas, rng) for _ in range(5)])
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a.q, b.q)
        np.testing.assert_array_equal(a.n_states, b.n_states)
    assert sum(d.sales.sum() for d in draws[0]) > sum(d.sales.sum() for d in draws[1])


# --------------------------------------------------------------------------------------------
# the reward on sales


def test_reward_on_sales_by_hand():
    """reward_on = "sales" replaces q by the units sold: S = units, B = max(p_low S, 1),
    profit = p.sales - p_low S; revenue stays the proxy's p.q."""
    config = EnvConfig(action_levels=5, eps_alpha=0.0, reward_on="sales").replace(n_products=2)
    params = config.step_params()
    state = PricingState(np.array([50.0, 100.0]), np.zeros(2), 0.5, 0.3, np.int32(0), np.int32(0))
    q, f, sales = np.array([[60.0, 40.0]]), np.array([0.2]), np.array([[3, 1]])
    market = Market(lambda p: np.full((2, 2), 50.0), lambda d, a: (q, f, np.array([7]), sales))
    _, reward, _, _, info = robust_step(np, state, 3, params, market, config.candidate_set(), reward_on="sales")
    prices = np.array([55.0, 110.0])
    units, budget = 4.0, 10.0 * 4.0
    priced = price_terms(np, prices, state.prices, params)
    coi = 0.2 * 0.2 * 1.0 * budget
    ux = 0.5 * budget * (priced["volatility"] + 0.5 * priced["upward"])
    supra = 0.5 * 0.5 * budget * priced["supra"]
    assert info["sales_revenue"] == pytest.approx(3 * 55 + 110) and info["units_sold"] == units
    assert info["revenue"] == info["proxy_revenue"] == pytest.approx(55 * 60 + 110 * 40)
    assert info["profit"] == pytest.approx(3 * 55 + 110 - 10 * units) and info["budget"] == budget
    assert reward == pytest.approx(3 * 55 + 110 - 10 * units - coi - ux - supra)
    np.testing.assert_array_equal(info["sales"], [3, 1])
    _, proxy_reward, _, _, proxy_info = robust_step(np, state, 3, params, market, config.candidate_set())
    assert proxy_info["profit"] == pytest.approx(55 * 60 + 110 * 40 - 10 * 100) and proxy_reward != reward


def test_reward_on_is_validated():
    with pytest.raises(ValueError, match=r"EnvConfig.reward_on = 'units': expected one of 'proxy', 'sales'"):
        EnvConfig(reward_on="units")
    with pytest.raises(ValueError, match=r"EnvConfig.reward_on = 'sales'.*adversary = 'sampled'"):
        EnvConfig(reward_on="sales", adversary="closed_form")


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_env_reports_sales_and_rewards_them_when_asked(backend):
    b = deterministic_behaviour()
    market = dataclasses.replace(EXACT, **RESPONSIVE)
    env = PhantomPricingEnv(
        EnvConfig(backend=backend, alpha0=1.0, eps_alpha=0.0, reward_on="sales", margin_floor=-1.0, market=market), b
    )
    env.reset(seed=0)
    for action in (0, 4, 8, 2):
        *_, info = env.step(action)
        prices = env.state.prices
        assert info["sales_revenue"] == pytest.approx(float(np.dot(info["sales"], prices)), rel=1e-5)
        assert info["units_sold"] == info["sales"].sum() and info["profit"] == pytest.approx(
            info["sales_revenue"] - env.config.p_low * info["units_sold"], rel=1e-5, abs=1e-3
        )


# --------------------------------------------------------------------------------------------
# the model's beta_Y and expected sales against simulation


def test_checkout_probability_against_a_walk_of_the_chain():
    """beta_Y by the absorbing-chain sum against the share of 20,000 walked stand-in paths per
    class that end at checkout (binomial z-test, power >= 0.9 against a 5 % error)."""
    beh = load_behaviour("standin")
    beta = class_masses(beh).loc[:, "checkout"].to_numpy()
    matrices, pi0 = absorbing_chains(beh)
    n = 20_000
    rng = np.random.default_rng(3)
    for cls in (0, 1):
        paths = walk(np.full(n, cls), rng.random((40, n)), search_cdf(np, matrices), search_cdf(np, pi0), beh.end)
        ended = np.isin(paths, beh.stop).any(axis=0).astype(float)
        p_value, power = z_test(ended, beta[cls], 0.0)
        assert power >= POWER and p_value > ALPHA, (cls, ended.mean(), beta[cls], power)


DRAWS = {"reference": 2500, "numpy": 3000, "numpy-per-state": 2500, "jax": 2500}
"""Market draws per backend (the reference walks every state through pandas)."""


@pytest.mark.parametrize("name", SAMPLERS)
def test_expected_sales_revenue_against_simulation(name):
    """E[sales revenue per step] from the model (oracle) against the mean of simulated draws at
    fixed prices around both classes' valuations, on the hand-built behaviour (short sessions,
    beta_H 1/5 and beta_A 3/4 by construction), alpha 0.4, price-responsive visits."""
    beh = behaviour()
    config = EnvConfig().replace(n_products=3, n_sessions=40, agent_mu=35.0, agent_sd=5.0, **RESPONSIVE)
    prices = np.array([20.0, 30.0, 45.0])
    model = SalesModel.of(beh, config, n_draws=200_000, seed=1)
    expected = model.expected(prices, 0.4).iloc[0]
    sampler = sampler_of(name, beh, config.market)
    rng = np.random.default_rng(11)
    revenue = np.array([sampler.sample(prices, [0.4], rng).sales[0] @ prices for _ in range(DRAWS[name])])
    p_value, power = z_test(revenue, expected["sales"], expected["sales_se"])
    assert power >= POWER, power
    assert p_value > ALPHA, (revenue.mean(), expected["sales"])


def test_expected_sales_check_has_power():
    """The same test rejects the model with beta_A off by 10 % (the error it must detect is 5 %)."""
    beh = behaviour()
    config = EnvConfig().replace(n_products=3, n_sessions=40, agent_mu=35.0, agent_sd=5.0, **RESPONSIVE)
    prices = np.array([20.0, 30.0, 45.0])
    model = SalesModel.of(beh, config, n_draws=200_000, seed=1)
    wrong = dataclasses.replace(model, beta=model.beta * np.array([1.0, 1.1]))
    expected = wrong.expected(prices, 0.4).iloc[0]
    sampler = make_sampler("numpy", beh, config.market)
    rng = np.random.default_rng(11)
    revenue = np.array([sampler.sample(prices, [0.4], rng).sales[0] @ prices for _ in range(DRAWS["numpy"])])
    assert z_test(revenue, expected["sales"], expected["sales_se"])[0] < ALPHA


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_expected_sales_on_the_standin_with_agents_that_do_not_buy(backend):
    """The stand-in's chains (beta from the chain), N = 4, M = 100, alpha 0.5, agents not buying."""
    beh = load_behaviour("standin")
    config = EnvConfig().replace(n_products=4, n_sessions=100, agents_buy=False, **RESPONSIVE)
    prices = np.array([20.0, 25.0, 35.0, 50.0])
    expected = SalesModel.of(beh, config, n_draws=200_000, seed=2).expected(prices, 0.5).iloc[0]
    sampler = make_sampler(backend, beh, config.market)
    rng = np.random.default_rng(12)
    revenue = np.array([sampler.sample(prices, [0.5], rng).sales[0] @ prices for _ in range(2000)])
    p_value, power = z_test(revenue, expected["sales"], expected["sales_se"])
    assert power >= POWER and p_value > ALPHA, (revenue.mean(), expected["sales"], power)
