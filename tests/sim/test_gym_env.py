"""The pricing environment: gymnasium contract, reward terms by hand, episode ends, seeds, config."""

import math

import numpy as np
import pytest
from _simulator_cases import behaviour
from gymnasium.utils.env_checker import check_env

from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.dynamics import Market, PricingState, robust_step
from phantom_lib.sim.gym_env import EpisodeLog, PhantomPricingEnv
from phantom_lib.sim.market import MarketConfig

SMALL = {"n_products": 3, "n_sessions": 10}


@pytest.fixture(scope="module")
def beh():
    return behaviour()


@pytest.fixture(scope="module")
def jax_env(beh):
    """One jax-backed env per module: it compiles once."""
    return PhantomPricingEnv(EnvConfig(backend="jax"), beh, **SMALL)


def make(beh, backend, jax_env, **fields):
    if backend == "jax" and not fields:
        return jax_env
    return PhantomPricingEnv(EnvConfig(backend=backend), beh, **{**SMALL, **fields})


@pytest.mark.parametrize("backend", ["reference", "numpy", "jax"])
def test_check_env_passes(beh, jax_env, backend):
    env = make(beh, backend, jax_env)
    check_env(env, skip_render_check=True)
    assert env.observation_space.shape == (2 * 3 + 4,)
    assert env.observation_space.dtype == np.float32
    assert env.action_space.n == 9


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"alpha0": 1.5}, r"EnvConfig.alpha0 = 1.5: expected a finite number in \[0, 1\]"),
        ({"alpha0": -0.1}, r"EnvConfig.alpha0 = -0.1: expected a finite number in \[0, 1\]"),
        ({"n_candidates": 0}, r"EnvConfig.n_candidates = 0: expected an integer >= 1"),
        ({"eps_alpha": -0.1}, r"EnvConfig.eps_alpha = -0.1: expected a finite number >= 0"),
        ({"p_low": 150.0, "p_high": 150.0}, r"EnvConfig.p_high = 150.0: expected above p_low \(150.0\)"),
        ({"p_low": 0.0}, r"EnvConfig.p_low = 0.0: expected a finite number > 0"),
        ({"action_levels": 1}, r"EnvConfig.action_levels = 1: expected an integer >= 2"),
        ({"max_steps": 0}, r"EnvConfig.max_steps = 0: expected an integer >= 1"),
        ({"patience": 0}, r"EnvConfig.patience = 0: expected an integer >= 1"),
        ({"lambda_coi": math.inf}, r"EnvConfig.lambda_coi = inf: expected a finite number >= 0"),
        ({"backend": "cuda"}, r"EnvConfig.backend = 'cuda': expected one of 'reference', 'numpy', 'jax'"),
    ],
)
def test_config_rejects_bad_fields_by_name(fields, message):
    with pytest.raises(ValueError, match=message):
        EnvConfig(**fields)


def test_config_routes_market_fields_and_rejects_unknown_ones():
    config = EnvConfig().replace(n_products=4, alpha0=0.1)
    assert config.market == MarketConfig(n_products=4) and config.alpha0 == 0.1
    with pytest.raises(ValueError, match=r"MarketConfig.n_sessions = 0"):
        EnvConfig().replace(n_sessions=0)
    with pytest.raises(TypeError, match="unknown EnvConfig field"):
        EnvConfig().replace(n_product=4)


def test_candidates_follow_the_model():
    np.testing.assert_allclose(
        EnvConfig(alpha0=0.3, eps_alpha=0.15, n_candidates=5).candidates, [0.15, 0.225, 0.3, 0.375, 0.45]
    )
    np.testing.assert_allclose(EnvConfig(alpha0=0.1, eps_alpha=0.3, n_candidates=3).candidates, [0.0, 0.2, 0.4])
    np.testing.assert_allclose(EnvConfig(alpha0=0.3, eps_alpha=0.0, n_candidates=5).candidates, [0.3])
    np.testing.assert_allclose(EnvConfig(alpha0=0.3, eps_alpha=0.2, n_candidates=1).candidates, [0.3])
    np.testing.assert_allclose(EnvConfig(action_levels=5).scales, [0.8, 0.9, 1.0, 1.1, 1.2])


def test_robust_step_reward_terms_by_hand():
    config = EnvConfig(alpha0=0.3, eps_alpha=0.1, n_candidates=2, action_levels=5).replace(n_products=2)
    params = config.step_params()
    state = PricingState(np.array([50.0, 100.0]), np.zeros(2), 0.5, 0.3, np.int32(0), np.int32(0))
    q = np.array([[60.0, 40.0], [30.0, 70.0]])
    f = np.array([0.2, 0.9])

    def demand(prices):
        np.testing.assert_allclose(prices, [55.0, 110.0])  # scale 1.1 (action 3 of 5)
        return np.full((2, 2), 50.0)

    def sample(d, alphas):
        np.testing.assert_allclose(alphas, [0.2, 0.4])
        return q, f, np.array([7, 9]), np.zeros((2, 2), dtype=np.int64)

    new, reward, terminated, truncated, info = robust_step(
        np, state, 3, params, Market(demand, sample), config.candidate_set()
    )
    # S = 100, B = 10 * 100 = 1000; revenue 55*60 + 110*40 = 7700 and 55*30 + 110*70 = 9350
    # coi: 0.2 * f * 1 * 1000 = (40, 180); rel = (0.1, 0.1): ux = 0.5 * 1000 * (0.1 + 0.05) = 75
    # anchor = clip(1.2 * 50, 10, 150) = 60: supra = ((110/60 - 1)^2 + 0) / 2, penalty 0.5 * 0.5 * 1000 * supra
    supra = (110 / 60 - 1) ** 2 / 2
    rewards = np.array([7700 - 1000 - 40 - 75, 9350 - 1000 - 180 - 75]) - 250 * supra
    np.testing.assert_allclose(info["candidate_rewards"], rewards)
    assert info["candidate"] == 0 and reward == pytest.approx(rewards[0])
    assert info["alpha_adv"] == pytest.approx(0.2)  # candidates (0.2, 0.4): the worst is the first
    np.testing.assert_array_equal(new.q, q[0])  # the worst candidate's own sample (erratum 4)
    assert new.f == 0.2 and new.alpha_adv == pytest.approx(0.2)
    assert info["profit"] == pytest.approx(6700) and info["revenue"] == pytest.approx(7700)
    assert info["coi_penalty"] == pytest.approx(40) and info["ux_penalty"] == pytest.approx(75)
    assert info["supra_penalty"] == pytest.approx(250 * supra) and info["supra_share"] == 0.5
    assert info["volatility"] == pytest.approx(0.1) and info["coi_leak"] == pytest.approx(0.2)
    assert info["coi_level"] == pytest.approx(72.5) and info["margin"] == pytest.approx(72.5 / 82.5)
    assert info["sampled_states"] == 16 and int(new.t) == 1
    assert not terminated and not truncated


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_env_reward_matches_its_observation(beh, jax_env, backend):
    env = make(beh, backend, jax_env)
    obs, _ = env.reset(seed=3)
    prev = obs[3:6].astype(float)
    for action in (8, 0, 4, 6):
        obs, reward, _, _, info = env.step(action)
        q, p, f = obs[:3].astype(float), obs[3:6].astype(float), float(obs[6])
        np.testing.assert_allclose(p, np.clip(prev * np.linspace(0.8, 1.2, 9)[action], 10, 150), rtol=1e-5)
        budget = max(10 * q.sum(), 1)
        profit = p @ q - 10 * q.sum()
        rel = (p - prev) / np.maximum(prev, 1)
        ux = 0.5 * budget * (np.abs(rel).mean() + 0.5 * np.maximum(rel, 0).mean())
        supra = 0.5 * 0.5 * budget * np.mean(np.maximum(p / 60 - 1, 0) ** 2)
        expected = profit - 0.2 * f * 1.0 * budget - ux - supra
        assert reward == pytest.approx(expected, rel=1e-4, abs=1e-2)
        assert reward == pytest.approx(min(info["candidate_rewards"]), rel=1e-6)
        assert info["agent_prob"] == pytest.approx(f, rel=1e-6) and obs[7] == pytest.approx(info["alpha_adv"])
        np.testing.assert_allclose(obs[8:], [0.3, 0.15], rtol=1e-6)
        prev = p


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_truncation_at_max_steps_is_not_termination(beh, backend):
    env = PhantomPricingEnv(EnvConfig(backend=backend, max_steps=3), beh, **SMALL)
    env.reset(seed=0)
    ends = [env.step(4)[2:4] for _ in range(3)]
    assert ends == [(False, False), (False, False), (False, True)]
    with pytest.raises(RuntimeError, match=r"episode has ended .* call reset\(\)"):
        env.step(4)  # gymnasium's convention: no rewards after the end
    env.reset(seed=0)
    assert env.step(4)[2:4] == (False, False)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_termination_after_patience_steps_below_the_margin_floor(beh, backend):
    env = PhantomPricingEnv(EnvConfig(backend=backend, patience=3, max_steps=200), beh, **SMALL)
    obs, _ = env.reset(seed=1)
    low = 0
    for step in range(1, 60):
        obs, _, terminated, truncated, info = env.step(0)  # keep cutting prices by 20%
        mean_price = obs[3:6].astype(float).mean()
        margin = (mean_price - 10) / mean_price
        assert info["margin"] == pytest.approx(margin, abs=1e-5)
        low = low + 1 if margin < 0.05 else 0
        assert terminated == (low >= 3) and not truncated
        if terminated:
            break
    assert terminated and np.allclose(obs[3:6], 10.0)
    with pytest.raises(RuntimeError, match="episode has ended"):
        env.step(0)


def test_seeds_reproduce_episodes_within_a_backend(beh, jax_env):
    for backend in ("reference", "numpy", "jax"):
        runs = []
        for _ in range(2):
            env = make(beh, backend, jax_env)
            obs, _ = env.reset(seed=11)
            trace = [obs]
            for action in (1, 7, 3, 8, 0):
                obs, reward, *_ = env.step(action)
                trace += [obs, np.array([reward])]
            runs.append(np.concatenate(trace))
        np.testing.assert_array_equal(runs[0], runs[1], err_msg=backend)
        other, _ = make(beh, backend, jax_env).reset(seed=12)
        assert not np.array_equal(other, runs[0][:10]), backend


def test_episode_log_records_the_alternation(beh):
    env = PhantomPricingEnv(EnvConfig(), beh, **SMALL)
    obs, _ = env.reset(seed=0)
    for action in (2, 6):
        obs, *_ = env.step(action)
    assert len(env.episode_log) == 3
    frame = env.episode_log.to_frame()
    assert list(frame.columns) == ["t", "product", "price", "demand", "agent_prob", "alpha_adv"]
    last = frame[frame.t == 2]
    np.testing.assert_allclose(last.price, obs[3:6], rtol=1e-6)
    np.testing.assert_allclose(last.demand, obs[:3], rtol=1e-6)
    env.reset(seed=0)
    assert len(env.episode_log) == 1
    log = EpisodeLog()
    with pytest.raises(RuntimeError, match="without published prices"):
        log.respond([1.0], 0.5, 0.3)
    log.publish([1.0])
    with pytest.raises(RuntimeError, match="published twice"):
        log.publish([1.0])


def test_env_needs_reset_and_rejects_bad_actions(beh):
    env = PhantomPricingEnv(EnvConfig(), beh, **SMALL)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must be an integer in \[0, 9\)"):
        env.step(9)


def test_functional_env_vmaps_over_environments(beh):
    import jax
    import jax.numpy as jnp

    from phantom_lib.sim import jax_env

    env, params = jax_env.make(EnvConfig().replace(**SMALL), beh)
    keys = jax.random.split(jax.random.key(0), 4)  # threefry: vmap keeps per-key semantics
    obs, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    assert obs.shape == (4, 2 * 3 + 4) and obs.dtype == jnp.float32
    actions = jnp.array([0, 3, 5, 8])
    batched = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))(keys, states, actions, params)
    single = jax.jit(env.step)(keys[2], jax.tree.map(lambda x: x[2], states), actions[2], params)
    np.testing.assert_allclose(batched[0][2], single[0], rtol=1e-5)  # env 2 of the batch = env 2 alone
    assert batched[2][2] == pytest.approx(float(single[2]), rel=1e-5)
    assert len({float(r) for r in batched[2]}) == 4  # independent environments


def test_default_env_runs_on_the_stand_in():
    env = PhantomPricingEnv()
    assert env.behaviour.n_states == 9 and "checkout_start" in env.behaviour.labels
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2 * 10 + 4,)
    obs, reward, *_ = env.step(4)
    assert np.isfinite(reward) and env.observation_space.contains(obs)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_zero_demand_flags_steps_whose_prices_exceed_every_valuation(beh, backend):
    # valuations far below the price floor: no product has true demand, whoever shops
    low = PhantomPricingEnv(
        behaviour=beh,
        backend=backend,
        n_products=3,
        n_sessions=10,
        human_mu=1.0,
        agent_mu=1.0,
        human_sd=0.1,
        agent_sd=0.1,
        noise_std=0.1,
    )
    low.reset(seed=0)
    assert [low.step(4)[4]["zero_demand"] for _ in range(3)] == [1.0, 1.0, 1.0]
    # valuations far above the price cap: every product has demand
    high = PhantomPricingEnv(
        behaviour=beh,
        backend=backend,
        n_products=3,
        n_sessions=10,
        human_mu=1000.0,
        agent_mu=1000.0,
        human_sd=0.1,
        agent_sd=0.1,
        noise_std=0.1,
    )
    high.reset(seed=0)
    assert [high.step(4)[4]["zero_demand"] for _ in range(3)] == [0.0, 0.0, 0.0]
