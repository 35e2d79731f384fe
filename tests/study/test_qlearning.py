"""The tabular Q-learner against a tiny pricing MDP whose optimum is known in closed form."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from phantom_lib.study.common import DigitisedFeatures, QLearnerConfig
from phantom_lib.study.sb3.qlearning import TabularQLearner

LEVELS = 7  # price levels p_k = 1 + k
A, B = 10.0, 1.0  # linear demand a - b p: per-step revenue p (a - b p), peak at p = a / (2b) = 5
GAMMA = 0.9
HORIZON = 15


def revenue(level: int) -> float:
    price = 1.0 + level
    return price * (A - B * price)


class PriceLadder(gym.Env):
    """Deterministic pricing MDP: the state is a price level, actions move it down / keep it / up.

    The reward is the revenue at the level reached. Episodes start at a random level and are
    truncated after HORIZON steps (a time limit, so values are those of the infinite horizon).
    """

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(0, LEVELS - 1, shape=(1,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self.level = 0
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.level, self.t = int(self.np_random.integers(LEVELS)), 0
        return np.array([self.level], dtype=np.float32), {}

    def step(self, action):
        self.level = int(np.clip(self.level + int(action) - 1, 0, LEVELS - 1))
        self.t += 1
        return np.array([self.level], dtype=np.float32), revenue(self.level), False, self.t >= HORIZON, {}


class LevelIndex:
    n_states = LEVELS

    def __call__(self, obs) -> int:
        return int(obs[0])


def closed_form_values() -> np.ndarray:
    """V*(k): walk one level per step towards the peak k*, then stay.

    With a concave revenue on the ladder, the level closest to k* reachable in t steps gives
    the largest reward at every t, and walking straight to k* reaches it at every t at once,
    so V*(k) = sum_{t<d} gamma^t r(k + (t+1) sign) + gamma^d r(k*) / (1 - gamma), d = |k - k*|.
    """
    peak = max(range(LEVELS), key=revenue)
    values = []
    for k in range(LEVELS):
        d, sign = abs(peak - k), np.sign(peak - k)
        path = sum(GAMMA**t * revenue(k + (t + 1) * sign) for t in range(d))
        values.append(path + GAMMA**d * revenue(peak) / (1 - GAMMA))
    return np.array(values)


def test_q_learner_finds_the_closed_form_optimum():
    assert max(range(LEVELS), key=revenue) == 4  # p* = a / 2b = 5 -> level 4
    learner = TabularQLearner(PriceLadder(), LevelIndex(), QLearnerConfig(gamma=GAMMA), seed=3).learn(40_000)
    peak = 4
    greedy = [learner.predict(np.array([k]))[0] for k in range(LEVELS)]
    expected = [2 if k < peak else 1 if k == peak else 0 for k in range(LEVELS)]  # up / stay / down
    assert greedy == expected
    np.testing.assert_allclose(learner.q.max(axis=1), closed_form_values(), rtol=0.02)
    assert learner.epsilon == pytest.approx(0.05)  # 1 * 0.9995^t has reached the floor


def test_q_learner_is_reproducible_per_seed():
    a = TabularQLearner(PriceLadder(), LevelIndex(), seed=1).learn(2_000).q
    b = TabularQLearner(PriceLadder(), LevelIndex(), seed=1).learn(2_000).q
    c = TabularQLearner(PriceLadder(), LevelIndex(), seed=2).learn(2_000).q
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_digitised_features_bins_by_hand():
    f = DigitisedFeatures(n_products=2, p_low=10.0, p_high=70.0, bins=6)
    assert f.n_states == 216
    # q = (50, 50): mean 50 -> bin 4 of [0, 62.5] (width 10.42); std 0 -> bin 0; mean p 15 -> bin 0
    assert f(np.array([50.0, 50.0, 10.0, 20.0, 0, 0, 0, 0])) == 4 * 36 + 0 * 6 + 0
    # q = (100, 0): std 50 -> bin 2 of [0, 150] (width 25, lower edge inclusive); mean p 65 -> bin 5
    assert f(np.array([100.0, 0.0, 60.0, 70.0, 0, 0, 0, 0])) == 4 * 36 + 2 * 6 + 5
    with pytest.raises(ValueError, match="bins"):
        DigitisedFeatures(n_products=2, p_low=10.0, p_high=70.0, bins=1)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="gamma"):
        QLearnerConfig(gamma=1.0)
