"""The study's learners and its trainable: ``train(config, seed) -> metrics`` (Model reference, section 7).

:func:`train` is the one entry point: ``train(config, seed) -> metrics``. A notebook cell calls
it directly; :func:`phantom_lib.study.run.runner.run_trials` calls it once per trial (in a Ray worker).

Learners (``algorithm``): ``ppo``, ``a2c``, ``dqn`` (stable-baselines3, MlpPolicy [64, 64], cpu,
one torch thread, reference hyperparameters scaled to the budget by
:func:`~phantom_lib.study.common.sb3_hyperparameters`)
and ``qtable`` (:class:`phantom_lib.study.sb3.qlearning.TabularQLearner` on the digitised (mean q, std q,
mean p) state). Reference policies, evaluated without training: ``static`` (scale 1.0),
``surge`` (demand thresholds), ``elasticity`` (linear-demand monopoly price), ``random`` and
``best_fixed`` (the constant action with the best reward, found by search).

Training env: the trial's own configuration. A ``defended`` trial trains in the robust env of
Model reference, section 6 (K candidate shares in alpha0 +/- eps_alpha, the worst kept, COI penalty
lambda_coi); a ``baseline`` twin trains with lambda_coi 0, eps_alpha 0, K 1 (the section's
baseline) and the same seed (see :mod:`phantom_lib.study.run.runner` for how twins enter the design).

Evaluation follows :mod:`phantom_lib.study.sb3.evaluate`; reference policies are in
:mod:`phantom_lib.study.sb3.policies`.

Metrics (:data:`~phantom_lib.study.common.METRICS`; per-step means over the evaluation episodes at alpha0, env units):
``reward``,
``revenue``, ``profit``, ``coi_level``, ``coi_leak``, ``margin``, ``volatility``, ``zero_demand``
(the share of steps whose prices leave every product with zero true demand for both classes),
``supra_share``, ``agent_prob``, ``sales_revenue`` (p.sales, price units), ``units_sold`` and
``proxy_revenue`` (= ``revenue``, p.q; Model reference, section 12), ``episode_return``,
``episode_length``; stress figures ``reward_lo``/``reward_hi``, ``revenue_lo``/``revenue_hi``,
``coi_leak_lo``/``coi_leak_hi``, ``sales_revenue_lo``/``sales_revenue_hi`` and the worst cases
``worst_reward``, ``worst_revenue``, ``worst_sales_revenue`` (minimum over the three shares) and
``worst_leak`` (maximum); budgets and timings ``train_steps``, ``train_seconds``,
``train_steps_per_s`` (env steps per second inside training, learner updates included),
``eval_seconds``; learning curves ``curve_step`` (training steps at the end of each of
``curve_points`` equal slices), ``curve_reward`` and ``curve_revenue`` (mean per-step reward and
revenue of the training steps in each slice, exploration included: free to record, unlike
extra evaluation episodes).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from phantom_lib.study.common import (
    DigitisedFeatures,
    QLearnerConfig,
    sb3_hyperparameters,
    training_record,
)
from phantom_lib.study.design.designs import (
    LEARNERS,
    REFERENCE_POLICIES,
    TrialConfig,
)
from phantom_lib.study.sb3.evaluate import Policy, env_config, evaluate, make_env, unit_box
from phantom_lib.study.sb3.policies import reference_policy
from phantom_lib.study.sb3.qlearning import TabularQLearner

NET_ARCH = (64, 64)
"""Hidden layer widths of the SB3 learners' MlpPolicy (Model reference, section 7)."""


class StepLog(gym.Wrapper):
    """Records each training step's reward and revenue (env units) and rescales the reward."""

    def __init__(self, env: gym.Env, reward_scale: float) -> None:
        super().__init__(env)
        self.reward_scale = reward_scale
        self.rewards: list[float] = []
        self.revenues: list[float] = []

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the wrapped env, log reward and revenue in env units, return the reward scaled."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.rewards.append(float(reward))
        self.revenues.append(float(info["revenue"]))
        return obs, float(reward) * self.reward_scale, terminated, truncated, info


def _sb3_model(algorithm: str, env: gym.Env, timesteps: int, seed: int) -> Any:
    import stable_baselines3 as sb3
    import torch
    from stable_baselines3.common.logger import Logger

    torch.set_num_threads(1)
    cls = {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[algorithm]
    model = cls(
        "MlpPolicy",
        env,
        seed=seed,
        device="cpu",
        verbose=0,
        policy_kwargs={"net_arch": list(NET_ARCH)},
        **sb3_hyperparameters(algorithm, timesteps),
    )
    model.set_logger(Logger(folder=None, output_formats=[]))  # SB3's default makes an empty /tmp/SB3-* per model
    return model


@dataclass
class Trained:
    """A trained (or reference) policy with the observation wrapper it expects and its log."""

    policy: Policy
    unit_obs: bool
    log: StepLog | None
    seconds: float


def fit(trial: TrialConfig, seed: int) -> Trained:
    """Train ``trial.algorithm`` for ``trial.timesteps`` steps in the trial's training env."""
    if trial.algorithm not in LEARNERS:
        raise ValueError(f"fit() trains learners {LEARNERS}; {trial.algorithm!r} is a reference policy")
    log = StepLog(make_env(trial, robust=True), trial.reward_scale)
    start = time.perf_counter()
    if trial.algorithm == "qtable":
        features = DigitisedFeatures(trial.env.market.n_products, *_price_bounds(log))
        model: Any = TabularQLearner(log, features, QLearnerConfig(), seed=seed).learn(trial.timesteps)
    else:
        model = _sb3_model(trial.algorithm, unit_box(log), trial.timesteps, seed)
        model.learn(total_timesteps=trial.timesteps)
    return Trained(model, trial.algorithm != "qtable", log, time.perf_counter() - start)


def _price_bounds(env: gym.Env) -> tuple[float, float]:
    config = env_config(env)
    return float(config.p_low), float(config.p_high)


def train(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Train (or build) the trial's policy and evaluate it: the study's trainable.

    Args:
        config: :class:`TrialConfig` fields as a dict (unknown keys are an error).
        seed: seeds the learner, the training env's resets and the evaluation episodes.

    Returns:
        the metrics listed in this module's docstring (floats; curves as lists).
    """
    trial = TrialConfig.from_mapping(config)
    if trial.algorithm in REFERENCE_POLICIES:
        start = time.perf_counter()
        policy, unit_obs, log, train_seconds = reference_policy(trial, seed), False, None, time.perf_counter() - start
    else:
        fitted = fit(trial, seed)
        policy, unit_obs, log, train_seconds = fitted.policy, fitted.unit_obs, fitted.log, fitted.seconds
    start = time.perf_counter()
    metrics: dict[str, Any] = evaluate(policy, trial, seed, unit_obs)
    metrics["eval_seconds"] = time.perf_counter() - start
    metrics.update(
        training_record(log.rewards if log else [], log.revenues if log else [], train_seconds, trial.curve_points)
    )
    return metrics
