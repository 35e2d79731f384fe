"""Evaluation of a pricing policy: the same protocol for every learner and reference policy.

Evaluation env: the market *as it is* at a given agent share, with no adversary (K 1: the
market is drawn at that share), the trial's lambda_coi and eps_alpha (the observation carries
eps_alpha, so each policy sees the value it was trained with), deterministic actions. The
observation's alpha0 is the evaluation share: a stress episode tells the policy the shifted
share, which it never saw in training. Every policy, defended, baseline or
reference, is scored against the same market, so revenue, profit, COI level and leakage compare
across variants. Shares: alpha0 (``eval_episodes`` episodes) and the stress shares
alpha0 -/+ max(eps_alpha, 0.15), clipped to [0, 1] (``eval_episodes`` each).

Metrics: :func:`run_episodes` gives per-step means of :data:`~phantom_lib.study.common.EVAL_METRICS` plus
``episode_return``
and ``episode_length``; :func:`evaluate` adds the stress figures and worst cases (the full list of a
trial's metrics is documented in :mod:`phantom_lib.study.sb3.learners`); :func:`evaluate` ends with
:func:`~phantom_lib.study.common.stress_summary`, which the jax engine shares.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from phantom_lib.behaviour.model import Behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.gym_env import PhantomPricingEnv
from phantom_lib.study.common import EVAL_METRICS, stress_summary
from phantom_lib.study.design.designs import TrialConfig


def make_env(
    trial: TrialConfig, alpha0: float | None = None, robust: bool = True, behaviour: Behaviour | None = None
) -> gym.Env:
    """The pricing env of ``trial``: its training env (``robust``) or the evaluation env at ``alpha0``.

    The evaluation env (``robust=False``) has no adversary (K = 1: the market is drawn at
    ``alpha0`` itself) and keeps everything else of the trial, including eps_alpha: the
    observation ends with (alpha0, eps_alpha), so a policy is evaluated with the eps_alpha
    input it was trained with. ``behaviour`` defaults to the one estimated from the trial's
    ``data_source`` (memoised per process by :func:`phantom_lib.behaviour.load_behaviour`).
    """
    config = trial.env.replace(
        alpha0=trial.env.alpha0 if alpha0 is None else alpha0, n_candidates=trial.env.n_candidates if robust else 1
    )
    return PhantomPricingEnv(config, behaviour)


def env_config(env: gym.Env) -> EnvConfig:
    """The configuration of the pricing env under ``env``'s wrappers."""
    inner = env.unwrapped
    if not isinstance(inner, PhantomPricingEnv):
        raise TypeError(f"expected a PhantomPricingEnv under the wrappers; got {type(inner).__name__}")
    return inner.config


def unit_box(env: gym.Env) -> gym.Env:
    """The env with observations rescaled to [0, 1] by its observation space's bounds (what the
    SB3 learners and the jax learners see)."""
    shape = env.observation_space.shape
    if shape is None:
        raise TypeError(f"unit_box rescales a Box observation space; got {env.observation_space}")
    return gym.wrappers.RescaleObservation(env, np.zeros(shape, np.float32), np.ones(shape, np.float32))


class Policy(Protocol):
    """What evaluation needs: SB3's ``predict(obs, deterministic) -> (action, state)``."""

    def predict(self, obs: npt.NDArray[np.float32], deterministic: bool = True) -> tuple[Any, Any]:
        """The action for observation ``obs`` (float32, length 2N + 4) and a recurrent state (unused)."""
        ...


def run_episodes(
    policy: Policy, trial: TrialConfig, alpha0: float, episodes: int, seed: int, unit_obs: bool = False
) -> dict[str, float]:
    """Deterministic episodes of ``policy`` in the evaluation env at share ``alpha0``.

    Episode e is reset with seed ``seed + e``. Returns per-step means of :data:`EVAL_METRICS`
    over all steps, plus ``episode_return`` and ``episode_length`` (means over episodes).
    """
    env = make_env(trial, alpha0=alpha0, robust=trial.evaluation == "training_env")
    view = unit_box(env) if unit_obs else env
    sums = dict.fromkeys(EVAL_METRICS, 0.0)
    steps, returns = 0, []
    for episode in range(episodes):
        obs, _ = view.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            action, _ = policy.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, info = view.step(int(np.asarray(action).item()))
            for name in EVAL_METRICS:
                sums[name] += float(info[name])
            total += float(reward)
            steps += 1
            done = terminated or truncated
        returns.append(total)
    out = {name: value / steps for name, value in sums.items()}
    out.update(episode_return=float(np.mean(returns)), episode_length=steps / episodes)
    return out


def evaluate(policy: Policy, trial: TrialConfig, seed: int, unit_obs: bool = False) -> dict[str, float]:
    """Evaluation at alpha0 and the two stress shares; worst cases over the three."""
    lo, hi = trial.stress_shares
    eval_seed = seed + 1_000_000  # evaluation episodes never replay a training reset
    main = run_episodes(policy, trial, trial.env.alpha0, trial.eval_episodes, eval_seed, unit_obs)
    low = run_episodes(policy, trial, lo, trial.eval_episodes, eval_seed, unit_obs)
    high = run_episodes(policy, trial, hi, trial.eval_episodes, eval_seed, unit_obs)
    return stress_summary(main, low, high, (lo, hi))
