"""The study's reference policies: non-learning anchors evaluated beside the learners.

``static`` (the scale nearest 1.0), ``surge`` (demand thresholds, the data-collection
heuristic made global), ``elasticity`` (a linear-demand monopolist), ``random`` and
``best_fixed`` (the constant action with the best reward, found by search). Each follows SB3's
``predict(obs, deterministic) -> (action, None)`` so :mod:`phantom_lib.study.sb3.evaluate` scores it
like a learner.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from phantom_lib.sim.spaces import ObsLayout
from phantom_lib.study.design.designs import REFERENCE_POLICIES, TrialConfig
from phantom_lib.study.sb3.evaluate import Policy, env_config, make_env, run_episodes


def _scales(env: gym.Env) -> npt.NDArray[np.float64]:
    return np.asarray(env_config(env).scales, dtype=np.float64)


@dataclass
class ConstantPolicy:
    """Always the same action (``static``: the scale nearest 1.0; ``best_fixed``: the best by search)."""

    action: int

    def predict(self, obs: npt.ArrayLike, deterministic: bool = True) -> tuple[int, None]:
        return self.action, None


@dataclass
class SurgePolicy:
    """Surge/discount by demand thresholds, the data-collection heuristic (Model reference, section 1) made global.

    The concentration c = max(q) / mean(q) of the observed proxy measures how strongly demand
    favours one product: c >= ``high`` surges (the scale nearest 1.2), c <= ``low`` discounts
    (nearest 0.9), otherwise prices stay (nearest 1.0).
    """

    scales: npt.NDArray[np.float64]
    n_products: int
    high: float = 1.5
    low: float = 1.2

    def predict(self, obs: npt.ArrayLike, deterministic: bool = True) -> tuple[int, None]:
        q = np.asarray(obs, dtype=float)[ObsLayout(self.n_products).q]
        concentration = q.max() / max(q.mean(), 1e-12)
        target = 1.2 if concentration >= self.high else 0.9 if concentration <= self.low else 1.0
        return int(np.argmin(np.abs(self.scales - target))), None


@dataclass
class ElasticityPolicy:
    """A textbook monopolist with linear demand d = v - p: revenue p (v - p) peaks at p* = v / 2.

    v is the valuation expected at the observed agent share alpha0 (slot ``ObsLayout.alpha0``):
    (1 - alpha0) mu_H + alpha0 mu_A. Each step picks the scale that brings the mean price
    closest to p*. (The env normalises demand to sum 100, so this policy is an anchor of
    what classical elasticity pricing earns here, not a good policy.)
    """

    scales: npt.NDArray[np.float64]
    n_products: int
    human_mu: float
    agent_mu: float

    def predict(self, obs: npt.ArrayLike, deterministic: bool = True) -> tuple[int, None]:
        x, layout = np.asarray(obs, dtype=float), ObsLayout(self.n_products)
        alpha0 = x[layout.alpha0]
        target = 0.5 * ((1 - alpha0) * self.human_mu + alpha0 * self.agent_mu)
        mean_price = x[layout.p].mean()
        return int(np.argmin(np.abs(self.scales * mean_price - target))), None


@dataclass
class RandomPolicy:
    """Uniform random actions from its own seeded generator."""

    n_actions: int
    rng: np.random.Generator

    def predict(self, obs: npt.ArrayLike, deterministic: bool = True) -> tuple[int, None]:
        return int(self.rng.integers(self.n_actions)), None


def reference_policy(trial: TrialConfig, seed: int) -> Policy:
    """The non-learning policy ``trial.algorithm`` for the trial's evaluation env."""
    env = make_env(trial, robust=False)
    scales, n = _scales(env), trial.env.market.n_products
    if trial.algorithm == "static":
        return ConstantPolicy(int(np.argmin(np.abs(scales - 1.0))))
    if trial.algorithm == "surge":
        return SurgePolicy(scales, n)
    if trial.algorithm == "elasticity":
        market = env_config(env).market
        return ElasticityPolicy(scales, n, float(market.human_mu), float(market.agent_mu))
    if trial.algorithm == "random":
        return RandomPolicy(scales.size, np.random.default_rng(seed))
    if trial.algorithm == "best_fixed":
        scores = [
            run_episodes(ConstantPolicy(a), trial, trial.env.alpha0, trial.search_episodes, seed + 10_000)["reward"]
            for a in range(scales.size)
        ]
        return ConstantPolicy(int(np.argmax(scores)))
    raise ValueError(f"unknown reference policy {trial.algorithm!r}; choose one of {REFERENCE_POLICIES}")
