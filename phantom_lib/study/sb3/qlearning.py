"""A tabular Q-learner of our own (Model reference, section 7).

TD(0) Q-learning over a finite state index produced by a *featuriser* (any callable
``obs -> int`` with an ``n_states`` attribute), epsilon-greedy exploration whose epsilon
decays geometrically per step. The featuriser is a parameter so the learner can be tested on
a tiny MDP whose optimum is known in closed form; :class:`~phantom_lib.study.common.DigitisedFeatures` is the PHANTOM
featuriser (mean q, std q, mean p, six bins each).

The learner mimics the small part of the stable-baselines3 interface the study uses:
``learn(total_timesteps)`` and ``predict(obs, deterministic=True) -> (action, None)``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from phantom_lib.study.common import Featuriser, QLearnerConfig


class TabularQLearner:
    """Epsilon-greedy TD(0) Q-learning on a discrete-action env.

    Q has shape (featuriser.n_states, n_actions), starts at zero, and is updated after each
    step by Q[s, a] += lr * (r + gamma * max_a' Q[s', a'] * (1 - terminated) - Q[s, a]).
    Truncation (a time limit) bootstraps like any other step (gymnasium semantics). Ties
    between greedy actions are broken at random while learning and by lowest index in
    :meth:`predict`.
    """

    def __init__(
        self, env: gym.Env, featuriser: Featuriser, config: QLearnerConfig | None = None, seed: int = 0
    ) -> None:
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
            target = float(reward) + (0.0 if terminated else cfg.gamma * self.q[nxt].max())
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
