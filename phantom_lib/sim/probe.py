"""The market held at a fixed price vector: what revenue and demand mass a share of agents brings.

Chapter 08 tests two claims about the market by simulation rather than by training: that under
the share proxy revenue is blind to the agent share once prices sit above every valuation, and that
under the mass proxy revenue per step follows the line p_bar_q ((1 - alpha) m_H + alpha m_A)
predicted from the absorbing chains (Model reference, section 10). :func:`revenue_by_share` draws
the market (one candidate share per draw, no adversary, no learning) at the same prices for each
share and reports the mean revenue p.q, the mean proxy mass sum(q) and the share of draws whose true
demand is zero, with their standard errors over draws. :func:`adversary_choices` records which
candidate share the robust step's adversary keeps while one price action is held: under the
closed-form adversary at prices above every valuation it is always the largest (section 10).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib.behaviour.model import Behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.market import MarketConfig
from phantom_lib.sim.samplers import make_sampler


def revenue_by_share(behaviour: Behaviour, config: MarketConfig, prices: npt.ArrayLike, shares: Sequence[float],
                     draws: int, seed: int = 0, backend: str = "numpy") -> pd.DataFrame:
    """Mean revenue, proxy mass and zero-demand share per market draw at fixed ``prices``, by share.

    Args:
        behaviour: the kernels the sessions come from. config: the market (N, M, proxy, ...).
        prices: p, shape (N,) (price units), held fixed. shares: agent shares alpha to draw at.
        draws: market draws per share (>= 2). seed: seeds one generator shared by the shares in order.
        backend: the market backend (``numpy`` by default; every backend computes the same model).

    Returns:
        one row per share: ``alpha``, ``revenue`` and ``revenue_se`` (mean p.q per draw and its
        standard error, price units x proxy units), ``mass`` and ``mass_se`` (mean sum(q)),
        ``zero_demand`` (share of draws whose true demand is zero for both classes) and ``draws``.
    """
    if draws < 2:
        raise ValueError(f"draws must be an integer >= 2 (standard errors need two); got {draws!r}")
    prices = np.asarray(prices, dtype=float)
    sampler = make_sampler(backend, behaviour, config)
    rng = np.random.default_rng(seed)
    rows = []
    for alpha in shares:
        revenue, mass, zero = np.empty(draws), np.empty(draws), np.empty(draws)
        for i in range(draws):
            sample = sampler.sample(prices, [alpha], rng)
            revenue[i] = float(sample.q[0] @ prices)
            mass[i] = float(sample.q[0].sum())
            zero[i] = float(sample.demand.sum() == 0)
        rows.append(
            {
                "alpha": float(alpha),
                "revenue": revenue.mean(),
                "revenue_se": revenue.std(ddof=1) / np.sqrt(draws),
                "mass": mass.mean(),
                "mass_se": mass.std(ddof=1) / np.sqrt(draws),
                "zero_demand": zero.mean(),
                "draws": draws,
            }
        )
    return pd.DataFrame(rows)


def adversary_choices(behaviour: Behaviour, config: EnvConfig, action: int, steps: int, seed: int = 0) -> pd.DataFrame:
    """Which candidate share the adversary keeps when one price action is held, step after step.

    Runs the gymnasium env of ``config`` (its adversary, K and eps_alpha) from a seeded reset,
    taking ``action`` every step (restarting episodes as they end), and records each step's kept
    share alpha_adv, whether it is the largest candidate, and whether every product's true demand
    was zero.

    Returns:
        one row per step: ``alpha_adv``, ``largest`` (bool: the kept share is the largest
        candidate), ``zero_demand`` (bool) and ``revenue`` (price units x proxy units).
    """
    from phantom_lib.sim.gym_env import PhantomPricingEnv

    env = PhantomPricingEnv(config, behaviour)
    top = float(config.candidates.max())
    rows = []
    env.reset(seed=seed)
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(action)
        rows.append(
            {
                "alpha_adv": info["alpha_adv"],
                "largest": bool(np.isclose(info["alpha_adv"], top)),
                "zero_demand": bool(info["zero_demand"]),
                "revenue": info["revenue"],
            }
        )
        if terminated or truncated:
            env.reset()
    return pd.DataFrame(rows)
