"""The market: configuration, behaviour, true demand, session split, f (hand-worked cases)."""

import math

import numpy as np
import pandas as pd
import pytest
from _simulator_cases import behaviour, trajectory_table

from phantom_lib.behaviour.kernels import Kernel, demand_condition
from phantom_lib.sim.market import (
    F_UNSCORED,
    Behaviour,
    MarketConfig,
    agents_in_split,
    normalised_proxy,
    session_classes,
    step_agent_probability,
    true_demand,
)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n_products": 0}, r"MarketConfig.n_products = 0: expected an integer >= 1"),
        ({"n_sessions": 0}, r"MarketConfig.n_sessions = 0: expected an integer >= 1"),
        ({"n_sessions": 2.5}, r"MarketConfig.n_sessions = 2.5: expected an integer"),
        ({"max_len": 0}, r"MarketConfig.max_len = 0"),
        ({"human_sd": -1.0}, r"MarketConfig.human_sd = -1.0: expected a finite number >= 0"),
        ({"agent_mu": math.nan}, r"MarketConfig.agent_mu = nan: expected a finite number"),
        ({"temperature": 0.0}, r"MarketConfig.temperature = 0.0: expected a finite number > 0"),
        ({"data_source": ""}, r"MarketConfig.data_source = '': expected 'standin' or the path"),
    ],
)
def test_market_config_rejects_bad_fields_by_name(fields, message):
    with pytest.raises(ValueError, match=message):
        MarketConfig(**fields)


@pytest.mark.parametrize(
    ("m", "alpha", "n_agents"),
    [(10, 0.3, 3), (10, 0.7, 7), (10, 0.35, 3), (100, 0.15, 15), (7, 1.0, 7), (7, 0.0, 0), (10, 0.29, 2)],
)
def test_session_split_is_the_floor_of_m_alpha(m, alpha, n_agents):
    assert agents_in_split(m, [alpha])[0] == n_agents


def test_session_split_rejects_shares_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        agents_in_split(10, [1.2])


def test_session_classes_put_n_a_agents_per_candidate():
    classes = session_classes(4, np.array([0, 1, 4]))
    np.testing.assert_array_equal(classes, [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]])


def test_true_demand_by_hand():
    prices = np.array([40.0, 30.0])
    z = np.array(
        [
            [[0.5, -1.0], [1.0, 0.0]],  # valuations: human, agent
            [[0.2, 0.0], [0.0, -0.4]],  # noise
        ]
    )
    d = true_demand(np, z, prices, np.array([50.0, 45.0]), np.array([10.0, 15.0]), 1.0)
    # human: v = (55, 40) -> (55 - 40 + 0.2, 40 - 30 + 0) = (15.2, 10)
    # agent: v = (60, 45) -> (60 - 40 + 0, 45 - 30 - 0.4) = (20, 14.6)
    np.testing.assert_allclose(d[0], [100 * 15.2 / 25.2, 100 * 10 / 25.2])
    np.testing.assert_allclose(d[1], [100 * 20 / 34.6, 100 * 14.6 / 34.6])


def test_demand_priced_out_is_zero_and_its_condition_uniform():
    z = np.zeros((2, 2, 3))
    d = true_demand(np, z, np.array([100.0, 100.0, 100.0]), np.array([50.0, 45.0]), np.array([10.0, 15.0]), 1.0)
    np.testing.assert_array_equal(d, 0.0)
    np.testing.assert_allclose(demand_condition(d), np.full((2, 3), 1 / 3))
    c = demand_condition(np.array([[30.0, 70.0, 0.0], [0.0, 0.0, 100.0]]))
    np.testing.assert_allclose(c, [[0.3, 0.7, 0.0], [0.0, 0.0, 1.0]])


def test_normalised_proxy_sums_to_100_and_stays_zero_without_events():
    q = normalised_proxy(np, np.array([[1.0, 3.0], [0.0, 0.0]]))
    np.testing.assert_allclose(q, [[25.0, 75.0], [0.0, 0.0]])
    q32 = normalised_proxy(np, np.array([[7.0, 0.0]], dtype=np.float32))
    assert q32.max() <= 100.0


def test_behaviour_from_trajectories_counts_event_to_event_pairs():
    b = behaviour()
    table = trajectory_table()
    # independent count of one pair straight from the table: agent view_item_page -> add_item_to_cart
    agent = table[table.actor == "agent"]
    pairs = [
        (a, c)
        for _, g in agent.groupby("trajectory")
        for a, c in zip(g.sort_values("step").event.iloc[:-1], g.sort_values("step").event.iloc[1:])
    ]
    i, j = b.labels.index("view_item_page"), b.labels.index("add_item_to_cart")
    assert b.agent_centroid[i, j] == pairs.count(("view_item_page", "add_item_to_cart")) == 4
    assert b.agent_centroid.sum() == len(pairs)
    assert not b.human_centroid[:, b.end].any()
    assert b.stop == (b.labels.index("checkout_start"),)
    assert b.weights[b.labels.index("add_item_to_cart")] == 4.0


def test_behaviour_rejects_mismatched_kernels_and_bad_centroids():
    b = behaviour()
    other = Kernel(("a", "session_end"), np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="one state order"):
        Behaviour(b.human, other)
    bad = b.human_centroid.copy()
    bad[0, b.end] = 1.0
    with pytest.raises(ValueError, match="event-to-event pairs only"):
        Behaviour(b.human, b.agent, human_centroid=bad)
    with pytest.raises(ValueError, match="missing"):
        Behaviour.from_kernels({"human": b.human})
    with pytest.raises(KeyError, match="class column"):
        Behaviour.from_trajectories(pd.DataFrame({"trajectory": ["t"], "step": [0], "event": ["a"]}))


def _two_state_behaviour() -> Behaviour:
    labels = ("a", "b", "session_end")
    matrix = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.0, 0.0, 1.0]])
    kernel = Kernel(labels, matrix, np.array([0.5, 0.5, 0.0]))
    human = np.array([[1.0, 3.0, 0], [2.0, 2.0, 0], [0, 0, 0]])  # a -> (1/4, 3/4), b -> (1/2, 1/2)
    agent = np.array([[3.0, 1.0, 0], [1.0, 3.0, 0], [0, 0, 0]])  # a -> (3/4, 1/4), b -> (1/4, 3/4)
    return Behaviour(kernel, kernel, human_centroid=human, agent_centroid=agent)


def test_step_agent_probability_by_hand():
    b = _two_state_behaviour()
    # s1 = a a a: T_s[a] = (1, 0): Delta_H = ln 4, Delta_A = ln 4/3, gap = ln 3, f = 3/4
    # s2 = b a:   T_s[b] = (1, 0): Delta_H = ln 2, Delta_A = ln 4, gap = -ln 2, f = 1/3
    # s3 = a:     one event, cannot be scored
    paths = np.full((2, 3, 4), -1)
    paths[0, 0, :3] = [0, 0, 0]
    paths[0, 1, :2] = [1, 0]
    paths[0, 2, 0] = 0
    paths[1, :, 0] = 0  # candidate 1: no scorable session
    f = step_agent_probability(paths, b, temperature=1.0)
    np.testing.assert_allclose(f, [(3 / 4 + 1 / 3) / 2, F_UNSCORED], atol=1e-8)
    # temperature 2 halves the gaps: sigmoid(ln(3)/2) = sqrt(3) / (1 + sqrt(3))
    f2 = step_agent_probability(paths[:1, :1], b, temperature=2.0)
    np.testing.assert_allclose(f2, [math.sqrt(3) / (1 + math.sqrt(3))], atol=1e-8)
