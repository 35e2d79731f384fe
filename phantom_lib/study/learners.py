"""Pricing learners, reference policies, evaluation and the study's trainable (MODEL.md section 7).

:func:`train` is the one entry point: ``train(config, seed) -> metrics``. A notebook cell calls
it directly; :func:`phantom_lib.study.runner.run_trials` calls it once per trial (in a Ray worker).

Learners (``algorithm``): ``ppo``, ``a2c``, ``dqn`` (stable-baselines3, MlpPolicy [64, 64], cpu,
one torch thread, reference hyperparameters scaled to the budget by :func:`sb3_hyperparameters`)
and ``qtable`` (:class:`phantom_lib.study.qlearning.TabularQLearner` on the digitised (mean q, std q,
mean p) state). Reference policies, evaluated without training: ``static`` (scale 1.0),
``surge`` (demand thresholds), ``elasticity`` (linear-demand monopoly price), ``random`` and
``best_fixed`` (the constant action with the best reward, found by search).

Training env: the trial's own configuration. A ``defended`` trial trains in the robust env of
MODEL.md section 6 (K candidate shares in alpha0 +/- eps_alpha, the worst kept, COI penalty
lambda_coi); a ``baseline`` twin trains with lambda_coi 0, eps_alpha 0, K 1 (the section's
baseline) and the same seed (see :mod:`phantom_lib.study.runner` for how twins enter the design).

Evaluation env: the market *as it is* at a given agent share, with no adversary (K 1: the
market is drawn at that share), the trial's lambda_coi and eps_alpha (the observation carries
eps_alpha, so each policy sees the value it was trained with), deterministic actions. The
observation's alpha0 is the evaluation share: a stress episode tells the policy the shifted
share, which it never saw in training. Every policy, defended, baseline or
reference, is scored against the same market, so revenue, profit, COI level and leakage compare
across variants. Shares: alpha0 (``eval_episodes`` episodes) and the stress shares
alpha0 -/+ max(eps_alpha, 0.15), clipped to [0, 1] (``eval_episodes`` each).

Metrics (per-step means over the evaluation episodes at alpha0, env units): ``reward``,
``revenue``, ``profit``, ``coi_level``, ``coi_leak``, ``margin``, ``volatility``,
``supra_share``, ``agent_prob``, ``episode_return``, ``episode_length``; stress figures
``reward_lo``/``reward_hi``, ``revenue_lo``/``revenue_hi``, ``coi_leak_lo``/``coi_leak_hi`` and
the worst cases ``worst_reward``, ``worst_revenue`` (minimum over the three shares) and
``worst_leak`` (maximum); budgets and timings ``train_steps``, ``train_seconds``,
``train_steps_per_s`` (env steps per second inside training, learner updates included),
``eval_seconds``; learning curves ``curve_step`` (training steps at the end of each of
``curve_points`` equal slices), ``curve_reward`` and ``curve_revenue`` (mean per-step reward and
revenue of the training steps in each slice, exploration included: free to record, unlike
extra evaluation episodes).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import numpy.typing as npt

from phantom_lib.study.qlearning import DigitisedFeatures, QLearnerConfig, TabularQLearner
from phantom_lib.study.runner import REFERENCE_POLICIES as REFERENCES

SB3_ALGORITHMS = ("ppo", "a2c", "dqn")
LEARNERS = (*SB3_ALGORITHMS, "qtable")
VARIANTS = ("defended", "baseline", "reference")
STRESS_MIN = 0.15
"""Stress shares are alpha0 -/+ max(eps_alpha, STRESS_MIN)."""

EVAL_METRICS = ("reward", "revenue", "profit", "coi_level", "coi_leak", "margin", "volatility",
                "supra_share", "agent_prob")
"""Per-step quantities averaged in evaluation (names of the env's ``info`` entries)."""

METRICS = (*EVAL_METRICS, "episode_return", "episode_length", "reward_lo", "reward_hi", "revenue_lo", "revenue_hi",
           "coi_leak_lo", "coi_leak_hi", "worst_reward", "worst_revenue", "worst_leak", "alpha_lo", "alpha_hi",
           "eval_seconds", "train_steps", "train_seconds", "train_steps_per_s", "curve_step", "curve_reward",
           "curve_revenue")
"""Every key :func:`train` returns (see the module docstring)."""

REFERENCE_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "ppo": {"learning_rate": 3e-4, "gamma": 0.99, "n_steps": 2048, "batch_size": 256, "n_epochs": 10,
            "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.0},
    "a2c": {"n_steps": 64},
    "dqn": {"buffer_size": 50_000, "batch_size": 256, "learning_starts": 1000, "target_update_interval": 1000,
            "exploration_fraction": 0.2, "exploration_final_eps": 0.05},
}
"""MODEL.md section 7 settings; the step counts among them are scaled by :func:`sb3_hyperparameters`."""

SCALED = {"ppo": {"n_steps": 4, "batch_size": 4}, "a2c": {"n_steps": 4},
          "dqn": {"batch_size": 4, "learning_starts": 8, "target_update_interval": 8}}
"""Step-count hyperparameter -> divisor d: its value is min(reference, pow2(timesteps / d))."""


@dataclass(frozen=True)
class TrialConfig:
    """One trial of the study (the ``config`` that :func:`train` receives, as a dataclass).

    Attributes:
        algorithm: a learner (:data:`LEARNERS`) or a reference policy (:data:`REFERENCES`).
        alpha0, eps_alpha, lambda_coi, action_levels: the design's factors (MODEL.md section 6).
        n_candidates: K, candidate shares of the robust step (the design keeps MODEL's 5).
        variant: ``defended`` (the config as given), ``baseline`` (lambda_coi 0, eps_alpha 0,
            K 1) or ``reference`` (a non-learning policy); a label for the analysis, checked
            against the values.
        timesteps: training budget, env steps (ignored by reference policies).
        eval_episodes: evaluation episodes at each of the three shares (>= 1).
        max_steps: episode length before truncation.
        curve_points: slices of the training steps in the learning curve (>= 1).
        search_episodes: episodes per action when ``best_fixed`` searches its constant action.
        reward_scale: training rewards are multiplied by this (1 / B = 1 / (p_low * 100) by
            default: the same optimum, rewards of order one for the value networks);
            metrics are always reported in env units.
        n_products, n_sessions: N and M of the market.
        backend: the market backend of the env.
    """

    algorithm: str
    alpha0: float = 0.3
    eps_alpha: float = 0.15
    lambda_coi: float = 0.2
    action_levels: int = 9
    n_candidates: int = 5
    variant: str = "defended"
    timesteps: int = 2048
    eval_episodes: int = 1
    max_steps: int = 100
    curve_points: int = 10
    search_episodes: int = 1
    reward_scale: float = 1e-3
    n_products: int = 10
    n_sessions: int = 100
    backend: str = "numpy"

    def __post_init__(self) -> None:
        problems = []
        if self.algorithm not in LEARNERS + REFERENCES:
            problems.append(f"algorithm must be one of {LEARNERS + REFERENCES}; got {self.algorithm!r}")
        if self.variant not in VARIANTS:
            problems.append(f"variant must be one of {VARIANTS}; got {self.variant!r}")
        elif (self.variant == "reference") != (self.algorithm in REFERENCES):
            problems.append(f"variant 'reference' goes with the reference policies {REFERENCES} only; "
                            f"got algorithm {self.algorithm!r} with variant {self.variant!r}")
        elif self.variant == "baseline" and (self.lambda_coi, self.eps_alpha, self.n_candidates) != (0, 0, 1):
            problems.append("variant 'baseline' needs lambda_coi 0, eps_alpha 0 and n_candidates 1 "
                            f"(MODEL.md section 6); got {self.lambda_coi}, {self.eps_alpha}, {self.n_candidates}")
        for name, minimum in (("timesteps", 1), ("eval_episodes", 1), ("max_steps", 1), ("curve_points", 1),
                              ("search_episodes", 1)):
            if int(getattr(self, name)) < minimum:
                problems.append(f"{name} must be >= {minimum}; got {getattr(self, name)}")
        if self.algorithm in LEARNERS and self.timesteps < self.curve_points:
            problems.append(f"timesteps ({self.timesteps}) must be >= curve_points ({self.curve_points})")
        if not self.reward_scale > 0:
            problems.append(f"reward_scale must be > 0; got {self.reward_scale}")
        if problems:
            raise ValueError("invalid trial config:\n  - " + "\n  - ".join(problems))

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> TrialConfig:
        """Build from a study config dict; unknown keys are an error that names them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown trial config key(s) {unknown}; known: {sorted(known)}")
        if "algorithm" not in config:
            raise ValueError("trial config needs 'algorithm'")
        return cls(**dict(config))

    @property
    def stress_shares(self) -> tuple[float, float]:
        """alpha0 -/+ max(eps_alpha, 0.15), clipped to [0, 1]."""
        width = max(self.eps_alpha, STRESS_MIN)
        return max(0.0, self.alpha0 - width), min(1.0, self.alpha0 + width)


# --------------------------------------------------------------------------- environments

def make_env(trial: TrialConfig, alpha0: float | None = None, robust: bool = True) -> gym.Env:
    """The pricing env of ``trial``: its training env (``robust``) or the evaluation env at ``alpha0``.

    The evaluation env (``robust=False``) has no adversary (K = 1: the market is drawn at
    ``alpha0`` itself) and keeps everything else of the trial, including eps_alpha: the
    observation ends with (alpha0, eps_alpha), so a policy is evaluated with the eps_alpha
    input it was trained with.
    """
    from phantom_lib.sim.config import EnvConfig
    from phantom_lib.sim.gym_env import PhantomPricingEnv

    fields = {"alpha0": trial.alpha0 if alpha0 is None else alpha0, "eps_alpha": trial.eps_alpha,
              "n_candidates": trial.n_candidates if robust else 1, "lambda_coi": trial.lambda_coi,
              "action_levels": trial.action_levels, "max_steps": trial.max_steps, "backend": trial.backend,
              "n_products": trial.n_products, "n_sessions": trial.n_sessions}
    return PhantomPricingEnv(EnvConfig().replace(**fields))  # market.default_behaviour(), cached per process


class StepLog(gym.Wrapper):
    """Records each training step's reward and revenue (env units) and rescales the reward."""

    def __init__(self, env: gym.Env, reward_scale: float) -> None:
        super().__init__(env)
        self.reward_scale = reward_scale
        self.rewards: list[float] = []
        self.revenues: list[float] = []

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.rewards.append(float(reward))
        self.revenues.append(float(info["revenue"]))
        return obs, float(reward) * self.reward_scale, terminated, truncated, info


def _unit_box(env: gym.Env) -> gym.Env:
    """SB3 learners see observations rescaled to [0, 1] by the observation space's bounds."""
    box = env.observation_space
    return gym.wrappers.RescaleObservation(env, np.zeros(box.shape, np.float32), np.ones(box.shape, np.float32))


def learning_curve(values: list[float], points: int) -> tuple[list[int], list[float]]:
    """Mean of ``values`` over ``points`` equal consecutive slices; returns (slice end steps, means)."""
    x = np.asarray(values, dtype=float)
    bounds = np.linspace(0, x.size, points + 1).round().astype(int)
    ends = [int(b) for b in bounds[1:]]
    means = [float(x[a:b].mean()) if b > a else float("nan") for a, b in zip(bounds[:-1], bounds[1:])]
    return ends, means


# --------------------------------------------------------------------------- learners

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

    torch.set_num_threads(1)
    cls = {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[algorithm]
    return cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, policy_kwargs={"net_arch": [64, 64]},
               **sb3_hyperparameters(algorithm, timesteps))


class Policy(Protocol):
    """What evaluation needs: SB3's ``predict(obs, deterministic) -> (action, state)``."""

    def predict(self, obs: npt.NDArray[np.float32], deterministic: bool = True) -> tuple[Any, Any]: ...


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
        features = DigitisedFeatures(trial.n_products, *_price_bounds(log))
        model: Any = TabularQLearner(log, features, QLearnerConfig(), seed=seed).learn(trial.timesteps)
    else:
        model = _sb3_model(trial.algorithm, _unit_box(log), trial.timesteps, seed)
        model.learn(total_timesteps=trial.timesteps)
    return Trained(model, trial.algorithm != "qtable", log, time.perf_counter() - start)


def _price_bounds(env: gym.Env) -> tuple[float, float]:
    config = env.unwrapped.config
    return float(config.p_low), float(config.p_high)


# --------------------------------------------------------------------------- reference policies

def _scales(env: gym.Env) -> npt.NDArray[np.float64]:
    return np.asarray(env.unwrapped.config.scales, dtype=float)


@dataclass
class ConstantPolicy:
    """Always the same action (``static``: the scale nearest 1.0; ``best_fixed``: the best by search)."""

    action: int

    def predict(self, obs: npt.ArrayLike, deterministic: bool = True) -> tuple[int, None]:
        return self.action, None


@dataclass
class SurgePolicy:
    """Surge/discount by demand thresholds, the data-collection heuristic (MODEL.md section 1) made global.

    The concentration c = max(q) / mean(q) of the observed proxy measures how strongly demand
    favours one product: c >= ``high`` surges (the scale nearest 1.2), c <= ``low`` discounts
    (nearest 0.9), otherwise prices stay (nearest 1.0).
    """

    scales: npt.NDArray[np.float64]
    n_products: int
    high: float = 1.5
    low: float = 1.2

    def predict(self, obs: npt.ArrayLike, deterministic: bool = True) -> tuple[int, None]:
        q = np.asarray(obs, dtype=float)[: self.n_products]
        concentration = q.max() / max(q.mean(), 1e-12)
        target = 1.2 if concentration >= self.high else 0.9 if concentration <= self.low else 1.0
        return int(np.argmin(np.abs(self.scales - target))), None


@dataclass
class ElasticityPolicy:
    """A textbook monopolist with linear demand d = v - p: revenue p (v - p) peaks at p* = v / 2.

    v is the valuation expected at the observed agent share alpha0 (obs[2N + 2]):
    (1 - alpha0) mu_H + alpha0 mu_A. Each step picks the scale that brings the mean price
    closest to p*. (The env normalises demand to sum 100, so this policy is an anchor of
    what classical elasticity pricing earns here, not a good policy.)
    """

    scales: npt.NDArray[np.float64]
    n_products: int
    human_mu: float
    agent_mu: float

    def predict(self, obs: npt.ArrayLike, deterministic: bool = True) -> tuple[int, None]:
        x = np.asarray(obs, dtype=float)
        n = self.n_products
        alpha0 = x[2 * n + 2]
        target = 0.5 * ((1 - alpha0) * self.human_mu + alpha0 * self.agent_mu)
        mean_price = x[n : 2 * n].mean()
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
    scales, n = _scales(env), trial.n_products
    if trial.algorithm == "static":
        return ConstantPolicy(int(np.argmin(np.abs(scales - 1.0))))
    if trial.algorithm == "surge":
        return SurgePolicy(scales, n)
    if trial.algorithm == "elasticity":
        market = env.unwrapped.config.market
        return ElasticityPolicy(scales, n, float(market.human_mu), float(market.agent_mu))
    if trial.algorithm == "random":
        return RandomPolicy(scales.size, np.random.default_rng(seed))
    if trial.algorithm == "best_fixed":
        scores = [run_episodes(ConstantPolicy(a), trial, trial.alpha0, trial.search_episodes, seed + 10_000)["reward"]
                  for a in range(scales.size)]
        return ConstantPolicy(int(np.argmax(scores)))
    raise ValueError(f"unknown reference policy {trial.algorithm!r}; choose one of {REFERENCES}")


# --------------------------------------------------------------------------- evaluation

def run_episodes(policy: Policy, trial: TrialConfig, alpha0: float, episodes: int, seed: int,
                 unit_obs: bool = False) -> dict[str, float]:
    """Deterministic episodes of ``policy`` in the evaluation env at share ``alpha0``.

    Episode e is reset with seed ``seed + e``. Returns per-step means of :data:`EVAL_METRICS`
    over all steps, plus ``episode_return`` and ``episode_length`` (means over episodes).
    """
    env = make_env(trial, alpha0=alpha0, robust=False)
    view = _unit_box(env) if unit_obs else env
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
    main = run_episodes(policy, trial, trial.alpha0, trial.eval_episodes, eval_seed, unit_obs)
    low = run_episodes(policy, trial, lo, trial.eval_episodes, eval_seed, unit_obs)
    high = run_episodes(policy, trial, hi, trial.eval_episodes, eval_seed, unit_obs)
    out = dict(main)
    for name in ("reward", "revenue", "coi_leak"):
        out[f"{name}_lo"], out[f"{name}_hi"] = low[name], high[name]
    out["worst_reward"] = min(main["reward"], low["reward"], high["reward"])
    out["worst_revenue"] = min(main["revenue"], low["revenue"], high["revenue"])
    out["worst_leak"] = max(main["coi_leak"], low["coi_leak"], high["coi_leak"])
    out.update(alpha_lo=lo, alpha_hi=hi)
    return out


# --------------------------------------------------------------------------- the trainable

def train(config: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Train (or build) the trial's policy and evaluate it: the study's trainable.

    Args:
        config: :class:`TrialConfig` fields as a dict (unknown keys are an error).
        seed: seeds the learner, the training env's resets and the evaluation episodes.

    Returns:
        the metrics listed in this module's docstring (floats; curves as lists).
    """
    trial = TrialConfig.from_mapping(config)
    if trial.algorithm in REFERENCES:
        start = time.perf_counter()
        policy, unit_obs, log, train_seconds = reference_policy(trial, seed), False, None, time.perf_counter() - start
    else:
        fitted = fit(trial, seed)
        policy, unit_obs, log, train_seconds = fitted.policy, fitted.unit_obs, fitted.log, fitted.seconds
    start = time.perf_counter()
    metrics: dict[str, Any] = evaluate(policy, trial, seed, unit_obs)
    metrics["eval_seconds"] = time.perf_counter() - start
    steps = len(log.rewards) if log is not None else 0
    metrics.update(train_steps=steps, train_seconds=train_seconds,
                   train_steps_per_s=steps / train_seconds if steps else float("nan"))
    if log is not None:
        ends, rewards = learning_curve(log.rewards, trial.curve_points)
        metrics.update(curve_step=ends, curve_reward=rewards, curve_revenue=learning_curve(log.revenues, trial.curve_points)[1])
    else:
        metrics.update(curve_step=[], curve_reward=[], curve_revenue=[])
    return metrics
