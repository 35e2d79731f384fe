"""A tabular Q-learner of our own (Model reference, section 7).

TD(0) Q-learning over a finite state index produced by a *featuriser* (any callable
``obs -> int`` with an ``n_states`` attribute), epsilon-greedy exploration whose epsilon
decays geometrically per step. The featuriser is a parameter so the learner can be tested on
a tiny MDP whose optimum is known in closed form; :class:`DigitisedFeatures` is the PHANTOM
featuriser (mean q, std q, mean p, six bins each).

The learner mimics the small part of the stable-baselines3 interface the study uses:
``learn(total_timesteps)`` and ``predict(obs, deterministic=True) -> (action, None)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from phantom_lib._validation import check, integer, is_real, real, relation


class Featuriser(Protocol):
    """Maps an observation to a state index in ``range(n_states)``."""

    n_states: int

    def __call__(self, obs: npt.ArrayLike) -> int: ...


@dataclass(frozen=True)
class QLearnerConfig:
    """Hyperparameters of :class:`TabularQLearner` (Model reference, section 7 defaults).

    Attributes:
        learning_rate: TD(0) step size in (0, 1].
        gamma: discount factor in [0, 1).
        epsilon_start, epsilon_end: exploration probability at the first step and its floor.
        epsilon_decay: per-step multiplier of epsilon, in (0, 1].
    """

    learning_rate: float = 0.1
    gamma: float = 0.99
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay: float = 0.9995

    def __post_init__(self) -> None:
        owner = "QLearnerConfig"
        check(
            owner,
            real(owner, "learning_rate", self.learning_rate, low=0, high=1, low_open=True),
            real(owner, "gamma", self.gamma, low=0, high=1, high_open=True),
            real(owner, "epsilon_start", self.epsilon_start, low=0, high=1),
            real(owner, "epsilon_end", self.epsilon_end, low=0, high=1),
            relation(owner, "epsilon_end", self.epsilon_end, not (is_real(self.epsilon_end) and is_real(self.epsilon_start))
                     or self.epsilon_end <= self.epsilon_start, f"<= epsilon_start ({self.epsilon_start!r})"),
            real(owner, "epsilon_decay", self.epsilon_decay, low=0, high=1, low_open=True),
        )


@dataclass(frozen=True)
class DigitisedFeatures:
    """The PHANTOM featuriser: (mean q, std q, mean p) of the observation, ``bins`` bins each.

    Observation layout (Model reference, section 6): [q (N), p (N), ...]. Each feature is cut into
    ``bins`` equal-width bins over a fixed range; values outside fall in the end bins:

    * mean q over [0, 1.25 * 100 / N]. The proxy is normalised to sum 100, so mean q is always
      100 / N and this coordinate carries no information; it is kept because the published
      learner uses it, and the range keeps 100 / N off a bin edge so its bin is stable;
    * std q over [0, 3 * 100 / N] (all demand on one product of ten gives std 30 = 3 * 100 / N);
    * mean p over [p_low, p_high] (price units).

    State index = i_mean_q * bins**2 + i_std_q * bins + i_mean_p, in ``range(bins**3)``.
    """

    n_products: int
    p_low: float
    p_high: float
    bins: int = 6

    def __post_init__(self) -> None:
        owner = "DigitisedFeatures"
        check(
            owner,
            integer(owner, "n_products", self.n_products, low=1),
            integer(owner, "bins", self.bins, low=2),
            real(owner, "p_low", self.p_low, low=0),
            relation(owner, "p_high", self.p_high, is_real(self.p_high) and is_real(self.p_low) and self.p_low < self.p_high,
                     f"a finite number above p_low ({self.p_low!r})"),
        )

    @property
    def n_states(self) -> int:
        """Number of states, bins**3."""
        return self.bins**3

    def edges(self) -> list[npt.NDArray[np.float64]]:
        """Interior bin edges of (mean q, std q, mean p), ``bins - 1`` each."""
        share = 100.0 / self.n_products
        ranges = [(0.0, 1.25 * share), (0.0, 3.0 * share), (self.p_low, self.p_high)]
        return [np.linspace(lo, hi, self.bins + 1)[1:-1] for lo, hi in ranges]

    def index(self, xp: Any, obs: Any) -> Any:
        """State index of ``obs`` (shape (2N + 4,)) in array namespace ``xp`` (numpy or jax.numpy,
        traceable under jit): the bin of each feature is the number of its interior edges <= the value."""
        n = self.n_products
        q, p = obs[:n], obs[n : 2 * n]
        index = 0
        for value, cuts in zip((q.mean(), q.std(), p.mean()), self.edges()):
            index = index * self.bins + xp.searchsorted(xp.asarray(cuts, dtype=obs.dtype), value, side="right")
        return index

    def __call__(self, obs: npt.ArrayLike) -> int:
        return int(self.index(np, np.asarray(obs, dtype=float)))


class TabularQLearner:
    """Epsilon-greedy TD(0) Q-learning on a discrete-action env.

    Q has shape (featuriser.n_states, n_actions), starts at zero, and is updated after each
    step by Q[s, a] += lr * (r + gamma * max_a' Q[s', a'] * (1 - terminated) - Q[s, a]).
    Truncation (a time limit) bootstraps like any other step (gymnasium semantics). Ties
    between greedy actions are broken at random while learning and by lowest index in
    :meth:`predict`.
    """

    def __init__(self, env: gym.Env, featuriser: Featuriser, config: QLearnerConfig | None = None, seed: int = 0) -> None:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise ValueError(f"TabularQLearner needs a Discrete action space; got {env.action_space}")
        self.env = env
        self.featuriser = featuriser
        self.config = config or QLearnerConfig()
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.n_actions = int(env.action_space.n)
        self.q = np.zeros((featuriser.n_states, self.n_actions))
        self.epsilon = self.config.epsilon_start
        self.num_timesteps = 0

    def _greedy(self, state: int) -> int:
        row = self.q[state]
        best = np.flatnonzero(row == row.max())
        return int(best[0] if best.size == 1 else self.rng.choice(best))

    def learn(self, total_timesteps: int) -> TabularQLearner:
        """Run ``total_timesteps`` environment steps of Q-learning (episodes reset as they end)."""
        cfg = self.config
        obs, _ = self.env.reset(seed=self.seed if self.num_timesteps == 0 else None)
        state = self.featuriser(obs)
        for _ in range(int(total_timesteps)):
            explore = self.rng.random() < self.epsilon
            action = int(self.rng.integers(self.n_actions)) if explore else self._greedy(state)
            obs, reward, terminated, truncated, _ = self.env.step(action)
            nxt = self.featuriser(obs)
            target = reward + (0.0 if terminated else cfg.gamma * self.q[nxt].max())
            self.q[state, action] += cfg.learning_rate * (target - self.q[state, action])
            self.epsilon = max(cfg.epsilon_end, self.epsilon * cfg.epsilon_decay)
            self.num_timesteps += 1
            if terminated or truncated:
                obs, _ = self.env.reset()
                nxt = self.featuriser(obs)
            state = nxt
        return self

    def predict(self, obs: npt.ArrayLike, deterministic: bool = True) -> tuple[int, Any]:
        """Greedy action (``deterministic``) or an epsilon-greedy one, SB3-style ``(action, None)``."""
        state = self.featuriser(obs)
        if not deterministic and self.rng.random() < self.epsilon:
            return int(self.rng.integers(self.n_actions)), None
        return int(np.argmax(self.q[state])), None
