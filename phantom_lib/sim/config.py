"""Configuration of the pricing environment (the book's Model reference, section 6).

:class:`EnvConfig` holds every number of one environment; :meth:`EnvConfig.step_params` turns
it into the :class:`~phantom_lib.sim.dynamics.StepParams` value the pure step code reads. The
gymnasium adapter (:mod:`phantom_lib.sim.gym_env`) and the functional jax env
(:mod:`phantom_lib.sim.jax_env`) are both built from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phantom_lib._arrays import FloatArray
from phantom_lib._validation import (
    Choice,
    InstanceOf,
    Integer,
    Real,
    Rule,
    Validated,
)
from phantom_lib.sim.dynamics import (
    ADVERSARIES,
    ANCHOR_MARKUP,
    REWARD_BASES,
    SCALE_RANGE,
    Candidates,
    StepParams,
)
from phantom_lib.sim.market import MarketConfig
from phantom_lib.sim.samplers import BACKENDS


@dataclass(frozen=True)
class EnvConfig(Validated):
    """Configuration of :class:`PhantomPricingEnv` (defaults = Model reference, section 6, "defended").

    Attributes:
        alpha0: nominal share of agent sessions, in [0, 1].
        eps_alpha: half-width of the robustness interval around alpha0 (>= 0).
        n_candidates: K, candidate shares scored per step (>= 1).
        lambda_coi: weight of the information-leak penalty (>= 0).
        info_value: InfoValue, the query tax per unit of agent probability (>= 0).
        eta_ux: weight of the user-experience penalties (>= 0).
        w_profit: weight of profit in the reward.
        action_levels: number of price multipliers in [0.8, 1.2] (>= 2).
        max_steps: steps before the episode is truncated (>= 1).
        p_low, p_high: price bounds (price units), 0 < p_low < p_high.
        margin_floor: margin (mean(p) - p_low) / mean(p) below which a step counts as low.
        patience: consecutive low-margin steps that terminate the episode (>= 1).
        backend: market backend, one of :data:`phantom_lib.sim.samplers.BACKENDS`.
        adversary: how the worst candidate share is found, one of
            :data:`~phantom_lib.sim.dynamics.ADVERSARIES` (Model reference, section 10):
            ``"sampled"`` (default: each candidate's own market draw) or ``"closed_form"``.
        reward_on: what the reward's revenue is computed on, one of
            :data:`~phantom_lib.sim.dynamics.REWARD_BASES` (Model reference, section 12):
            ``"proxy"`` (default, the thesis: p.q) or ``"sales"`` (the control platform: the
            units sold replace q throughout the reward; needs ``adversary = "sampled"``, since
            the closed-form adversary scores candidates on the proxy).
        market: N, M, valuations, session length and proxy (:class:`MarketConfig`).
    """

    alpha0: float = 0.3
    eps_alpha: float = 0.15
    n_candidates: int = 5
    lambda_coi: float = 0.2
    info_value: float = 1.0
    eta_ux: float = 0.5
    w_profit: float = 1.0
    action_levels: int = 9
    max_steps: int = 100
    p_low: float = 10.0
    p_high: float = 150.0
    margin_floor: float = 0.05
    patience: int = 5
    backend: str = "numpy"
    adversary: str = "sampled"
    reward_on: str = "proxy"
    market: MarketConfig = field(default_factory=MarketConfig)

    _parameter_constraints = {
        "alpha0": (Real(low=0, high=1),),
        "eps_alpha": (Real(low=0),),
        "lambda_coi": (Real(low=0),),
        "info_value": (Real(low=0),),
        "eta_ux": (Real(low=0),),
        "w_profit": (Real(),),
        "margin_floor": (Real(),),
        "n_candidates": (Integer(low=1),),
        "action_levels": (Integer(low=2),),
        "max_steps": (Integer(low=1),),
        "patience": (Integer(low=1),),
        "p_low": (Real(low=0, low_open=True),),
        "p_high": (Real(), Rule(lambda c: c.p_low < c.p_high, "above p_low ({p_low!r})")),
        "backend": (Choice(BACKENDS),),
        "adversary": (Choice(ADVERSARIES),),
        "reward_on": (Choice(REWARD_BASES), Rule(lambda c: c.reward_on != "sales" or c.adversary == "sampled",
                                                 "'proxy' with adversary = 'closed_form' (it scores candidates on the "
                                                 "proxy); or set adversary = 'sampled'")),
        "market": (InstanceOf(MarketConfig, "a MarketConfig"),),
    }

    def replace(self, **fields: Any) -> EnvConfig:
        """A copy with fields changed; MarketConfig fields (``n_products``, ...) may be given flat."""
        own = {f.name for f in dataclasses.fields(self)}
        market_names = {f.name for f in dataclasses.fields(MarketConfig)}
        unknown = sorted(set(fields) - own - market_names)
        if unknown:
            raise TypeError(
                f"unknown EnvConfig field(s) {unknown}; known: {sorted(own | market_names)}"
            )
        market = {k: v for k, v in fields.items() if k in market_names}
        top = {k: v for k, v in fields.items() if k in own}
        if market:
            top["market"] = dataclasses.replace(top.get("market", self.market), **market)
        return dataclasses.replace(self, **top)

    @property
    def scales(self) -> FloatArray:
        """Price multiplier of each action, shape (action_levels,)."""
        return np.linspace(*SCALE_RANGE, self.action_levels)

    @property
    def candidates(self) -> FloatArray:
        """Candidate agent shares alpha_k, shape (K,); [alpha0] when eps_alpha = 0 or K = 1."""
        if self.eps_alpha == 0 or self.n_candidates == 1:
            return np.array([float(self.alpha0)])
        lo, hi = max(0.0, self.alpha0 - self.eps_alpha), min(1.0, self.alpha0 + self.eps_alpha)
        return np.linspace(lo, hi, self.n_candidates)

    def candidate_set(self) -> Candidates:
        """:attr:`candidates` as the step code takes them (all active)."""
        return Candidates(self.candidates)

    @property
    def anchor(self) -> float:
        """Supra-competitive price anchor clip(1.2 * mu_H, p_low, p_high) (price units)."""
        return float(np.clip(ANCHOR_MARKUP * self.market.human_mu, self.p_low, self.p_high))

    def step_params(self) -> StepParams:
        """The numbers :func:`robust_step` needs, as a pytree of numpy values."""
        return StepParams(
            scales=self.scales,
            alpha0=float(self.alpha0),
            eps_alpha=float(self.eps_alpha),
            p_low=float(self.p_low),
            p_high=float(self.p_high),
            lambda_coi=float(self.lambda_coi),
            info_value=float(self.info_value),
            eta_ux=float(self.eta_ux),
            w_profit=float(self.w_profit),
            anchor=self.anchor,
            margin_floor=float(self.margin_floor),
            patience=int(self.patience),
            max_steps=int(self.max_steps),
        )
