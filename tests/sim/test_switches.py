"""The market as the published sweep ran it (Model reference, section 10): the two switches.

``MarketConfig.proxy = "mass"`` (q_i = omega-weighted mass per session on product i, no
normalisation) and ``EnvConfig.adversary = "closed_form"`` (candidates scored without sessions,
then one market draw at the worst share): hand-worked cases, and every backend drawing the same
distributions as the reference backend, with power checks (helpers in ``_checks``; the market
draws at both proxies are compared in ``test_samplers``).
"""

import dataclasses

import numpy as np
import pytest
from _checks import (
    AGENT_MASS,
    ALPHA,
    HUMAN_MASS,
    chi2_same,
    deterministic_behaviour,
    env_steps_jax,
    env_steps_numpy,
    same_distribution,
)
from _simulator_cases import behaviour

from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.dynamics import (
    Candidates,
    Market,
    PricingState,
    closed_form_rewards,
    price_terms,
    reward_terms,
    robust_step,
)
from phantom_lib.sim.market import MarketConfig
from phantom_lib.sim.samplers import BACKENDS, make_sampler
from phantom_lib.study.design.designs import TrialConfig

SMALL = {"n_products": 3, "n_sessions": 10}


@pytest.fixture(scope="module")
def beh():
    return behaviour()


# --------------------------------------------------------------------------------------------
# configuration


def test_switches_are_validated_and_settable_flat():
    config = EnvConfig().replace(proxy="mass", adversary="closed_form", n_products=4)
    assert config.market.proxy == "mass" and config.adversary == "closed_form" and config.market.n_products == 4
    assert EnvConfig().market.proxy == "share" and EnvConfig().adversary == "sampled"  # defaults: the method as written
    with pytest.raises(ValueError, match=r"MarketConfig.proxy = 'count': expected one of 'share', 'mass'"):
        MarketConfig(proxy="count")
    with pytest.raises(ValueError, match=r"EnvConfig.adversary = 'mixture': expected one of 'sampled', 'closed_form'"):
        EnvConfig(adversary="mixture")
    trial = TrialConfig.from_mapping({"algorithm": "ppo", "proxy": "mass", "adversary": "closed_form", "alpha0": 0.4})
    assert trial.env.market.proxy == "mass" and trial.env.adversary == "closed_form" and trial.env.alpha0 == 0.4


# --------------------------------------------------------------------------------------------
# the mass proxy on hand-made trajectories


DETERMINISTIC = MarketConfig(n_products=3, n_sessions=10, human_sd=0.0, agent_sd=0.0, noise_std=0.0)
"""Valuations 50 (humans) and 45 (agents) without spread or noise: at prices (100, 40, 100) only
product 1 has demand for either class, so every state lands on product 1."""


@pytest.mark.parametrize("backend", BACKENDS)
def test_mass_proxy_on_hand_made_trajectories(backend):
    b = deterministic_behaviour()
    prices = np.array([100.0, 40.0, 100.0])
    rng = np.random.default_rng(0)
    mass = make_sampler(backend, b, dataclasses.replace(DETERMINISTIC, proxy="mass")).sample(prices, [0.3, 0.6], rng)
    # alpha 0.3: 7 human sessions of mass 3 and 3 agent sessions of mass 9 -> (21 + 27) / 10 = 4.8
    # alpha 0.6: 4 x 3 + 6 x 9 = 66 -> 6.6 (no normalisation: the sum is the mean mass of a session)
    expected = [[0.0, (7 * HUMAN_MASS + 3 * AGENT_MASS) / 10, 0.0], [0.0, (4 * HUMAN_MASS + 6 * AGENT_MASS) / 10, 0.0]]
    np.testing.assert_allclose(mass.q, expected, rtol=1e-6)
    np.testing.assert_array_equal(mass.n_states, [7 * 2 + 3 * 3, 4 * 2 + 6 * 3])
    share = make_sampler(backend, b, DETERMINISTIC).sample(prices, [0.3, 0.6], rng)
    np.testing.assert_allclose(share.q, [[0.0, 100.0, 0.0]] * 2, rtol=1e-6)


def test_mass_proxy_sets_the_floor_cost_and_budget():
    """At unchanged prices (100, 40, 100): S = sum(q) = q_1, B = 10 S, profit = 40 q_1 - 10 S,
    supra = ((100/60 - 1)^2 * 2) / 3, no COI (lambda 0) and no UX penalty (prices unchanged)."""
    b = deterministic_behaviour()
    config = EnvConfig(alpha0=0.3, eps_alpha=0.3, n_candidates=2, lambda_coi=0.0, market=DETERMINISTIC).replace(
        proxy="mass"
    )
    sampler = make_sampler("numpy", b, config.market)
    rng = np.random.default_rng(1)
    market = Market(
        lambda p: sampler.draw_demand(p, rng),
        lambda d, a: (lambda s: (s.q, s.f, s.n_states, s.sales))(sampler.sample_at(d, a, rng)),
    )
    state = PricingState(np.array([100.0, 40.0, 100.0]), np.zeros(3), 0.5, 0.3, np.int32(0), np.int32(0))
    _, reward, _, _, info = robust_step(np, state, 4, config.step_params(), market, config.candidate_set())
    supra = 2 * (100 / 60 - 1) ** 2 / 3
    q1 = np.array([HUMAN_MASS, (4 * HUMAN_MASS + 6 * AGENT_MASS) / 10])  # candidates alpha 0 and 0.6
    rewards = 40 * q1 - 10 * q1 - 0.5 * 0.5 * (10 * q1) * supra
    np.testing.assert_allclose(info["candidate_rewards"], rewards)
    assert info["candidate"] == 0 and reward == pytest.approx(rewards[0])
    assert info["budget"] == pytest.approx(10 * HUMAN_MASS) and info["profit"] == pytest.approx(30 * HUMAN_MASS)


# --------------------------------------------------------------------------------------------
# the closed-form adversary, hand cases


class Recorder:
    """A market with a fixed true demand that records the shares it is asked to sample."""

    def __init__(self, demand, q, f):
        self.demand, self.q, self.f, self.asked = (
            np.asarray(demand, float),
            np.asarray(q, float),
            np.asarray(f, float),
            [],
        )

    def market(self):
        def sample(d, alphas):
            self.asked.append(np.array(alphas))
            k = len(alphas)
            return (
                np.tile(self.q, (k, 1)),
                np.full(k, self.f),
                np.full(k, 5),
                np.zeros((k, self.q.size), dtype=np.int64),
            )

        return Market(lambda prices: self.demand, sample)


def _closed_form_step(demand, prices, alphas, **fields):
    config = EnvConfig(adversary="closed_form", action_levels=5, **fields).replace(n_products=len(prices))
    recorder = Recorder(demand, q=[70.0, 30.0][: len(prices)], f=0.4)
    state = PricingState(np.asarray(prices, float), np.zeros(len(prices)), 0.5, 0.3, np.int32(0), np.int32(0))
    out = robust_step(
        np, state, 2, config.step_params(), recorder.market(), Candidates(np.asarray(alphas)), "closed_form"
    )
    return config, recorder, out


def test_closed_form_adversary_picks_the_largest_share_when_demand_is_zero():
    # every price above every valuation: both demand rows are zero, r_k = -lambda * alpha_k * info_value
    config, recorder, (new, reward, _, _, info) = _closed_form_step(
        np.zeros((2, 2)), [140.0, 150.0], [0.15, 0.3, 0.45], lambda_coi=0.2
    )
    np.testing.assert_allclose(info["candidate_rewards"], [-0.2 * 0.15, -0.2 * 0.3, -0.2 * 0.45])
    assert info["candidate"] == 2 and info["alpha_adv"] == pytest.approx(0.45)
    assert len(recorder.asked) == 1 and recorder.asked[0].tolist() == [0.45]  # one fresh draw, at alpha_k*
    # the step is rewarded with the full reward of that draw (action 2 of 5 keeps the prices)
    params = config.step_params()
    prices = np.array([140.0, 150.0])
    full = reward_terms(
        np, prices, np.array([[70.0, 30.0]]), np.array([0.4]), price_terms(np, prices, prices, params), params
    )
    assert reward == pytest.approx(float(full["reward"][0])) and info["ux_penalty"] == 0.0 and info["supra_penalty"] > 0
    np.testing.assert_array_equal(new.q, [70.0, 30.0])


def test_closed_form_adversary_picks_the_lowest_closed_form_reward():
    # agents priced out (d_A = 0), d_H = (100, 0) at prices (10, 30): p.d_H = 1000 = p_low * 100, so
    # r(alpha) = (1 - alpha)(0) - 0.2 * alpha * max(1000 (1 - alpha), 1) = -200 alpha (1 - alpha):
    # (-32, -50, -32) at alpha (0.2, 0.5, 0.8): the middle share is the worst
    _, recorder, (_, _, _, _, info) = _closed_form_step(
        [[100.0, 0.0], [0.0, 0.0]], [10.0, 30.0], [0.2, 0.5, 0.8], lambda_coi=0.2
    )
    np.testing.assert_allclose(info["candidate_rewards"], [-32.0, -50.0, -32.0])
    assert info["candidate"] == 1 and recorder.asked[0].tolist() == [0.5]
    # with both classes in the market the score is linear in alpha: d_H = (60, 40), d_A = (0, 100),
    # prices (20, 50): p.q = 3200 + 1800 alpha, S = 100: r = 2200 + 1800 alpha - 200 alpha -> lowest at alpha 0
    _, recorder, (_, _, _, _, info) = _closed_form_step(
        [[60.0, 40.0], [0.0, 100.0]], [20.0, 50.0], [0.0, 0.5, 1.0], lambda_coi=0.2
    )
    np.testing.assert_allclose(info["candidate_rewards"], [2200.0, 3000.0, 3800.0])
    assert info["candidate"] == 0 and recorder.asked[0].tolist() == [0.0]


def test_closed_form_rewards_formula_with_weights():
    params = EnvConfig(lambda_coi=0.5, info_value=2.0, w_profit=0.5).step_params()
    demand = np.array([[30.0, 70.0], [100.0, 0.0]])
    got = closed_form_rewards(np, np.array([20.0, 40.0]), demand, np.array([0.0, 1.0]), params)
    # alpha 0: q = (30, 70): 0.5 * (600 + 2800 - 1000) = 1200; alpha 1: q = (100, 0): 0.5 * (2000 - 1000) - 0.5 * 2 *
    # 1000
    np.testing.assert_allclose(got, [1200.0, 500.0 - 1000.0])


# --------------------------------------------------------------------------------------------
# every backend draws the reference's distributions, with both switches


CLOSED = EnvConfig(adversary="closed_form", alpha0=0.4, eps_alpha=0.3, n_candidates=3).replace(**SMALL)
"""Shares (0.1, 0.4, 0.7) at prices around the valuations: some steps have demand, some not."""


@pytest.fixture(scope="module")
def closed_draws(beh):
    return {
        "reference": env_steps_numpy("reference", beh, CLOSED, 400, 1),
        "numpy": env_steps_numpy("numpy", beh, CLOSED, 2000, 2),
        "jax": env_steps_jax(beh, CLOSED, 2000, 3),
    }


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_closed_form_adversary_draws_the_reference_distribution(closed_draws, backend):
    base, other = closed_draws["reference"], closed_draws[backend]
    assert chi2_same(np.round(base["alpha_adv"], 3), np.round(other["alpha_adv"], 3)) > ALPHA
    for name in ("reward", "q0", "f"):
        assert same_distribution(base[name], other[name]), name
    assert len(np.unique(np.round(other["alpha_adv"], 3))) >= 2  # the worst share varies with the demand draw


def test_closed_form_distribution_test_has_power(beh, closed_draws):
    """The same checks reject the sampled adversary at the same configuration and sizes."""
    sampled = env_steps_numpy("numpy", beh, CLOSED.replace(adversary="sampled"), 2000, 4)
    base = closed_draws["reference"]
    assert chi2_same(np.round(base["alpha_adv"], 3), np.round(sampled["alpha_adv"], 3)) < ALPHA


@pytest.mark.parametrize("backend", BACKENDS)
def test_env_with_both_switches_passes_the_gymnasium_checks(beh, backend):
    from gymnasium.utils.env_checker import check_env

    from phantom_lib.sim.gym_env import PhantomPricingEnv

    env = PhantomPricingEnv(EnvConfig(backend=backend, adversary="closed_form"), beh, proxy="mass", **SMALL)
    check_env(env, skip_render_check=True)
    assert env.observation_space.high[0] == 40 * 4.0  # a product's mass is at most L_max * max(omega)
    obs, _ = env.reset(seed=0)
    obs, reward, *_, info = env.step(8)
    assert np.isfinite(reward) and env.observation_space.contains(obs) and info["candidate"] in range(5)
