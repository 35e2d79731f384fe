"""The study's learners and its trainable: ``train(config, seed) -> metrics`` (Model reference, section 7).

:func:`train` is the one entry point: ``train(config, seed) -> metrics``. A notebook cell calls
it directly; :func:`phantom_lib.study.run.runner.run_trials` calls it once per trial (in a Ray worker).

Learners (``algorithm``): ``ppo``, ``a2c``, ``dqn`` (stable-baselines3, MlpPolicy [64, 64], cpu,
one torch thread, reference hyperparameters scaled to the budget by :func:`sb3_hyperparameters`)
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

Metrics (per-step means over the evaluation episodes at alpha0, env units): ``reward``,
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from phantom_lib.study.design.designs import (
    LEARNERS,
    REFERENCE_POLICIES,
    SB3_ALGORITHMS,
    TrialConfig,
)
from phantom_lib.study.sb3.evaluate import (
    EVAL_METRICS,
    Policy,
    evaluate,
    make_env,
    unit_box,
)
from phantom_lib.study.sb3.policies import reference_policy
from phantom_lib.study.sb3.qlearning import (
    DigitisedFeatures,
    QLearnerConfig,
    TabularQLearner,
)

METRICS = (*EVAL_METRICS, "episode_return", "episode_length", "reward_lo", "reward_hi", "revenue_lo", "revenue_hi",
           "coi_leak_lo", "coi_leak_hi", "sales_revenue_lo", "sales_revenue_hi", "worst_reward", "worst_revenue",
           "worst_sales_revenue", "worst_leak", "alpha_lo", "alpha_hi",
           "eval_seconds", "train_steps", "train_seconds", "train_steps_per_s", "curve_step", "curve_reward",
           "curve_revenue")
"""Every key :func:`train` returns (see the module docstring)."""

NET_ARCH = (64, 64)
"""Hidden layer widths of the SB3 learners' MlpPolicy (Model reference, section 7)."""

REFERENCE_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "ppo": {"learning_rate": 3e-4, "gamma": 0.99, "n_steps": 2048, "batch_size": 256, "n_epochs": 10,
            "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.0},
    "a2c": {"n_steps": 64},
    "dqn": {"buffer_size": 50_000, "batch_size": 256, "learning_starts": 1000, "target_update_interval": 1000,
            "exploration_fraction": 0.2, "exploration_final_eps": 0.05},
}
"""Model reference, section 7 settings; the step counts among them are scaled by :func:`sb3_hyperparameters`."""

SCALED = {"ppo": {"n_steps": 4, "batch_size": 4}, "a2c": {"n_steps": 4},
          "dqn": {"batch_size": 4, "learning_starts": 8, "target_update_interval": 8}}
"""Step-count hyperparameter -> divisor d: its value is min(reference, pow2(timesteps / d))."""


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


def learning_curve(values: Sequence[float] | npt.NDArray[Any], points: int) -> tuple[list[int], list[float]]:
    """Mean of ``values`` over ``points`` equal consecutive slices; returns (slice end steps, means)."""
    x = np.asarray(values, dtype=float)
    bounds = np.linspace(0, x.size, points + 1).round().astype(int)
    ends = [int(b) for b in bounds[1:]]
    means = [float(x[a:b].mean()) if b > a else float("nan") for a, b in zip(bounds[:-1], bounds[1:])]
    return ends, means


def _pow2_floor(x: float) -> int:
    return 1 << max(0, int(np.floor(np.log2(max(x, 1.0)))))


def sb3_hyperparameters(algorithm: str, timesteps: int) -> dict[str, Any]:
    """Reference hyperparameters with step counts fitted to a training budget.

    A step-count hyperparameter h with reference value h_ref and divisor d (:data:`SCALED`)
    becomes min(h_ref, 2^floor(log2(timesteps / d))): PPO's rollout and batch and A2C's rollout
    allow at least four updates, DQN's warm-up and target period at most an eighth of the
    budget, its batch at most a quarter. With the reference budgets (>= 8192 steps for PPO)
    nothing changes; smaller budgets shrink them in powers of two (PPO's batch then divides its
    rollout). Other settings (learning rates, gamma, clip, exploration fractions) are unchanged.
    """
    if algorithm not in REFERENCE_HYPERPARAMETERS:
        raise ValueError(f"no SB3 hyperparameters for {algorithm!r}; SB3 algorithms are {SB3_ALGORITHMS}")
    params = dict(REFERENCE_HYPERPARAMETERS[algorithm])
    for name, divisor in SCALED[algorithm].items():
        params[name] = min(params[name], _pow2_floor(timesteps / divisor))
    if algorithm == "ppo":
        params["batch_size"] = min(params["batch_size"], params["n_steps"])
    return params


def _sb3_model(algorithm: str, env: gym.Env, timesteps: int, seed: int) -> Any:
    import stable_baselines3 as sb3
    import torch
    from stable_baselines3.common.logger import Logger

    torch.set_num_threads(1)
    cls = {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[algorithm]
    model = cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, policy_kwargs={"net_arch": list(NET_ARCH)},
                **sb3_hyperparameters(algorithm, timesteps))
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
    config = env.unwrapped.config
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
    metrics.update(training_record(log.rewards if log else [], log.revenues if log else [], train_seconds,
                                   trial.curve_points))
    return metrics


def training_record(rewards: Any, revenues: Any, seconds: float, curve_points: int) -> dict[str, Any]:
    """``train_steps``, ``train_seconds``, ``train_steps_per_s`` and the learning curves of a training log.

    Args:
        rewards, revenues: reward and revenue of every training step (env units), length T (0:
            nothing was trained). seconds: training wall time. curve_points: slices of the curve.
    """
    steps = len(rewards)
    out: dict[str, Any] = {"train_steps": steps, "train_seconds": seconds,
                           "train_steps_per_s": steps / seconds if steps else float("nan")}
    if not steps:
        return {**out, "curve_step": [], "curve_reward": [], "curve_revenue": []}
    ends, curve_reward = learning_curve(rewards, curve_points)
    return {**out, "curve_step": ends, "curve_reward": curve_reward,
            "curve_revenue": learning_curve(revenues, curve_points)[1]}
