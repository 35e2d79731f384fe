"""What both study engines share: metric names, the stress summary, the training record, reference
hyperparameters and the Q-learner's featuriser (Model reference, section 7).

The SB3 engine (:mod:`phantom_lib.study.sb3`) and the jax engine (:mod:`phantom_lib.study.jax`) import
these from here, so neither engine imports the other: a trial's metrics have the same names and
meanings (:data:`METRICS`, documented in :mod:`phantom_lib.study.sb3.learners`) whichever engine ran it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from phantom_lib._validation import (
    Integer,
    Real,
    Rule,
    Validated,
)
from phantom_lib.sim.spaces import ObsLayout
from phantom_lib.study.design.designs import SB3_ALGORITHMS

EVAL_METRICS = ("reward", "revenue", "profit", "coi_level", "coi_leak", "margin", "volatility", "zero_demand",
                "supra_share", "agent_prob", "sales_revenue", "units_sold", "proxy_revenue")
"""Per-step quantities averaged in evaluation (names of the env's ``info`` entries). ``revenue`` and
``proxy_revenue`` are both p.q (the thesis's revenue on the interest proxy); ``sales_revenue`` is
p.sales and ``units_sold`` sum(sales), the units bought (Model reference, section 12)."""


METRICS = (*EVAL_METRICS, "episode_return", "episode_length", "reward_lo", "reward_hi", "revenue_lo", "revenue_hi",
           "coi_leak_lo", "coi_leak_hi", "sales_revenue_lo", "sales_revenue_hi", "worst_reward", "worst_revenue",
           "worst_sales_revenue", "worst_leak", "alpha_lo", "alpha_hi",
           "eval_seconds", "train_steps", "train_seconds", "train_steps_per_s", "curve_step", "curve_reward",
           "curve_revenue")
"""Every key a trial's metrics have, on either engine (meanings: :mod:`phantom_lib.study.sb3.learners`)."""

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


def stress_summary(main: dict[str, float], low: dict[str, float], high: dict[str, float],
                   shares: tuple[float, float]) -> dict[str, float]:
    """The metrics at alpha0 with the stress figures and worst cases added (every engine's evaluation).

    Args:
        main, low, high: :func:`~phantom_lib.study.sb3.evaluate.run_episodes`-style means at alpha0
            and at the two stress shares.
        shares: the stress shares (alpha_lo, alpha_hi).
    """
    out = dict(main)
    for name in ("reward", "revenue", "coi_leak", "sales_revenue"):
        out[f"{name}_lo"], out[f"{name}_hi"] = low[name], high[name]
    out["worst_reward"] = min(main["reward"], low["reward"], high["reward"])
    out["worst_revenue"] = min(main["revenue"], low["revenue"], high["revenue"])
    out["worst_sales_revenue"] = min(main["sales_revenue"], low["sales_revenue"], high["sales_revenue"])
    out["worst_leak"] = max(main["coi_leak"], low["coi_leak"], high["coi_leak"])
    out.update(alpha_lo=shares[0], alpha_hi=shares[1])
    return out


class Featuriser(Protocol):
    """Maps an observation to a state index in ``range(n_states)``."""

    @property
    def n_states(self) -> int:
        """How many states there are."""
        ...

    def __call__(self, obs: npt.ArrayLike) -> int: ...


@dataclass(frozen=True)
class QLearnerConfig(Validated):
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

    _parameter_constraints = {
        "learning_rate": (Real(low=0, high=1, low_open=True),),
        "gamma": (Real(low=0, high=1, high_open=True),),
        "epsilon_start": (Real(low=0, high=1),),
        "epsilon_end": (
            Real(low=0, high=1),
            Rule(lambda c: c.epsilon_end <= c.epsilon_start, "<= epsilon_start ({epsilon_start!r})"),
        ),
        "epsilon_decay": (Real(low=0, high=1, low_open=True),),
    }


@dataclass(frozen=True)
class DigitisedFeatures(Validated):
    """The PHANTOM featuriser: (mean q, std q, mean p) of the observation, ``bins`` bins each.

    Observation slots: :class:`~phantom_lib.sim.spaces.ObsLayout` (Model reference, section 6).
    Each feature is cut into
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

    _parameter_constraints = {
        "n_products": (Integer(low=1),),
        "p_low": (Real(low=0),),
        "p_high": (Real(), Rule(lambda c: c.p_low < c.p_high, "a finite number above p_low ({p_low!r})")),
        "bins": (Integer(low=2),),
    }

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
        layout = ObsLayout(self.n_products)
        q, p = obs[layout.q], obs[layout.p]
        index = 0
        for value, cuts in zip((q.mean(), q.std(), p.mean()), self.edges()):
            index = index * self.bins + xp.searchsorted(xp.asarray(cuts, dtype=obs.dtype), value, side="right")
        return index

    def __call__(self, obs: npt.ArrayLike) -> int:
        return int(self.index(np, np.asarray(obs, dtype=float)))
