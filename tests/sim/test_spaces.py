"""The observation's named slots and bounds (phantom_lib.sim.spaces) against what the step code builds."""

import numpy as np
import pytest
from _simulator_cases import behaviour

from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.dynamics import PricingState, observe
from phantom_lib.sim.gym_env import PhantomPricingEnv
from phantom_lib.sim.market import MarketConfig
from phantom_lib.sim.spaces import ObsLayout, observation_bounds


@pytest.mark.parametrize("n", [1, 3, 10])
def test_layout_names_the_slots_observe_writes(n):
    config = EnvConfig(alpha0=0.4, eps_alpha=0.1, market=MarketConfig(n_products=n))
    q, prices = np.arange(1.0, n + 1), np.arange(20.0, 20.0 + n)
    state = PricingState(prices, q, np.float64(0.6), np.float64(0.25), 0, 0)
    obs, layout = observe(np, state, config.step_params()), ObsLayout(n)
    assert obs.shape == (layout.size,) == (2 * n + 4,)
    np.testing.assert_array_equal(obs[layout.q], q)
    np.testing.assert_array_equal(obs[layout.p], prices)
    assert obs[layout.f_last] == np.float32(0.6) and obs[layout.alpha_adv_last] == np.float32(0.25)
    assert obs[layout.alpha0] == np.float32(0.4) and obs[layout.eps_alpha] == np.float32(0.1)
    slots = [*range(n)[layout.q], *range(2 * n)[layout.p], layout.f_last, layout.alpha_adv_last, layout.alpha0,
             layout.eps_alpha]
    assert sorted(slots) == list(range(layout.size))  # every slot named exactly once


def test_bounds_by_hand_and_every_visited_observation_inside():
    beh = behaviour()
    config = EnvConfig(eps_alpha=1.5, p_low=5.0, p_high=60.0, market=MarketConfig(n_products=3, n_sessions=10))
    low, high = observation_bounds(config, beh)
    assert low.dtype == high.dtype == np.float32
    np.testing.assert_array_equal(low, [0, 0, 0, 5, 5, 5, 0, 0, 0, 0])
    np.testing.assert_array_equal(high, [100, 100, 100, 60, 60, 60, 1, 1, 1, 1.5])  # share proxy sums to 100
    env = PhantomPricingEnv(config, beh)
    obs, _ = env.reset(seed=0)
    for action in [0, 8, 4, 2, 6, 1, 7, 3]:
        assert np.all(obs >= low) and np.all(obs <= high)
        obs, *_ = env.step(action)
