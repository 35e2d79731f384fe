"""The defence experiment: constructed cases, agreement with the market sampler, the recon split."""

import numpy as np
import pytest
from _simulator_cases import behaviour

from phantom_lib.data.events import weights_of
from phantom_lib.detection import defence
from phantom_lib.sim.market import MarketConfig
from phantom_lib.sim.samplers.numpy import NumpySampler, PerStateSampler


def test_perfect_detector_recovers_true_human_demand_in_a_constructed_case():
    # two products; true human demand (75, 25). Humans: three sessions on product 0 and one on
    # product 1, every session the same events (omega 1 + 2 + 4 = 7), so their proxy is exactly
    # (75, 25). Agents pile onto product 1.
    labels = ["page_view", "hover_over_title", "add_item_to_cart"]
    path = np.array([[0, 1, 2, -1]])
    human_products = [0, 0, 0, 1]
    events = np.repeat(path, 7, axis=0)
    products = np.array([[p, p, p, -1] for p in human_products + [1, 1, 1]])
    is_agent = np.array([0, 0, 0, 0, 1, 1, 1])
    interest = defence.session_interest(events, products, weights_of(labels), 2)
    assert interest[0].tolist() == [7.0, 0.0] and interest[3].tolist() == [0.0, 7.0]
    truth = np.array([75.0, 25.0])
    for mode in ("exclude", "downweight"):
        q = defence.defended_proxy(interest, defence.session_weights(is_agent.astype(float), mode))
        np.testing.assert_allclose(q, truth, rtol=0, atol=1e-8)
    off = defence.defended_proxy(interest, defence.session_weights(is_agent, "off"))
    np.testing.assert_allclose(off, [300 / 7, 400 / 7], atol=1e-8)  # 21 and 28 of 49 omega units


def test_session_weights_by_mode():
    f = np.array([0.1, 0.5, 0.9])
    assert defence.session_weights(f, "off").tolist() == [1.0, 1.0, 1.0]
    assert defence.session_weights(f, "exclude", 0.5).tolist() == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(defence.session_weights(f, "downweight"), [0.9, 0.5, 0.1])
    with pytest.raises(ValueError, match="unknown defence mode"):
        defence.session_weights(f, "block")


def test_sessions_reproduce_the_market_sampler():
    b = behaviour()
    config = MarketConfig(n_products=4, n_sessions=30, max_len=12)
    prices = np.array([20.0, 40.0, 60.0, 80.0])
    market = PerStateSampler(b, config).sample(prices, [0.4], np.random.default_rng(11))
    sessions = defence.sample_sessions(NumpySampler(b, config), prices, 0.4, np.random.default_rng(11))
    q = defence.defended_proxy(defence.session_interest(sessions.events, sessions.products, b.weights, 4), np.ones(30))
    np.testing.assert_allclose(q, market.q[0], rtol=1e-12)
    np.testing.assert_array_equal(sessions.demand, market.demand)
    assert sessions.is_agent.sum() == 12  # floor(30 * 0.4)
    assert ((sessions.events >= 0) == (sessions.products >= 0)).all()


def test_experiment_with_a_perfect_detector():
    b = behaviour()
    config = defence.DefenceConfig(alphas=(0.0, 0.5), n_steps=5, detector="perfect")
    results = defence.defence_experiment(b, MarketConfig(n_products=4, n_sessions=20, max_len=12), config)
    assert len(results) == 2 * 5 * 3
    defended = results[results["mode"] != "off"]
    assert (defended["humans_excluded"] == 0).all()
    assert (defended.loc[defended["alpha"] == 0.5, "agents_excluded"] == 1).all()
    at_zero = results[results["alpha"] == 0.0].pivot(index="step", columns="mode", values="error")
    np.testing.assert_array_equal(at_zero["off"], at_zero["exclude"])  # nothing to remove without agents
    summary = defence.summarise_defence(results)
    table = defence.at_alpha(summary, 0.5)
    assert list(table.index) == list(defence.MODES)
    assert table.loc["off", "error_vs_off"] == 0.0
    with pytest.raises(ValueError, match="was not run"):
        defence.at_alpha(summary, 0.3)


def test_reprice_by_hand():
    config = defence.DefenceConfig(surge_high=1.25, surge_low=0.75, p_low=10, p_high=100)
    # N = 4: fair share 25; surge at >= 31.25, discount at <= 18.75
    prices = np.array([50.0, 50.0, 95.0, 10.0])
    q = np.array([40.0, 25.0, 20.0, 15.0])
    np.testing.assert_allclose(defence.reprice(prices, q, config), [60.0, 50.0, 95.0, 10.0])


def test_markup_and_recon_leak():
    config = defence.ReconConfig(depths=(0, 1, 3), n_agents=200, markup=0.2, interest_cap=40.0)
    np.testing.assert_allclose(defence.markup_factor([0, 20, 40, 400], config), [1.0, 1.1, 1.2, 1.2])
    table = defence.recon_experiment(behaviour(), MarketConfig(n_products=4, max_len=12), config)
    assert table.loc[0, "leak"] == 0.0 and table.loc[0, "recon_events"] == 0.0
    assert (table["leak"] >= 0).all()
    # the oracle never charges more than the full markup over the clean session's price
    clean = weights_of(config.clean_path).sum()
    bound = 1.2 / defence.markup_factor(clean, config) - 1
    assert (table["oracle_revenue"] <= table["observed_revenue"] * (1 + bound) + 1e-9).all()
    assert table["recon_events"].is_monotonic_increasing


def test_configs_name_the_bad_field():
    with pytest.raises(ValueError, match="detector"):
        defence.DefenceConfig(detector="boosted")
    with pytest.raises(ValueError, match="alphas"):
        defence.DefenceConfig(alphas=(1.5,))
    with pytest.raises(ValueError, match="depths"):
        defence.ReconConfig(depths=(-1,))
