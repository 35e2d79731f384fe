"""The errata, measured: each original-engine behaviour beside this book's, on the same inputs.

``book/errata.md`` lists where this book departs from the original engine (Model reference, section 9).
These functions put a number on each departure that can be simulated cheaply:

* erratum 1, :func:`transposed_kernel`: the chain the original sampler walked (rows read from
  the kernel's columns), against the estimated chain;
* erratum 2, :func:`cart_weight_effect`: the demand proxy with ``checkout_start`` and
  ``remove_item`` weighted as navigation (1.0) instead of cart (4.0);
* erratum 3, :func:`walk_effects` with a uniform start instead of pi0;
* erratum 4, :func:`resample_effect`: the reward of the worst candidate's own sample against a
  fresh sample at the worst share;
* erratum 6, :func:`mixture_f_effect`: the closed-form f = alpha of the original JAX path
  against the f every backend here computes.

Erratum 5 (leave-one-out centroids) is measured in chapter 04; erratum 7 (time limits as
truncation) changes what a learner bootstraps from, not what the simulator samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._arrays import FloatArray
from phantom_lib._validation import (
    Integer,
    Validated,
)
from phantom_lib.behaviour.kernels import sample_paths
from phantom_lib.behaviour.model import CLASSES, Behaviour
from phantom_lib.data import events
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.dynamics import price_terms, reward_terms
from phantom_lib.sim.gym_env import PhantomPricingEnv
from phantom_lib.sim.samplers import make_sampler

ORIGINAL_NAV_ACTIONS = ("checkout_start", "remove_item")
"""Cart actions the original engine's prefix rule weighted as navigation (erratum 2)."""


@dataclass(frozen=True)
class ErrataConfig(Validated):
    """How much to simulate.

    Attributes:
        n_sessions: sessions sampled per class and variant (errata 1 and 3).
        n_steps: environment steps (erratum 4) and market draws per share (erratum 6).
        max_len: L_max, the most states a session holds.
        seed: seed of every draw.
    """

    n_sessions: int = 20_000
    n_steps: int = 300
    max_len: int = 40
    seed: int = 0

    _parameter_constraints = {
        "n_sessions": (Integer(low=2),),
        "n_steps": (Integer(low=2),),
        "max_len": (Integer(low=2),),
        "seed": (Integer(low=0),),
    }


def transposed_kernel(matrix: FloatArray, end: int) -> FloatArray:
    """The chain the original sampler walked: row e is column e of ``matrix``, renormalised.

    A row with no mass goes to ``end``; ``end`` stays absorbing. Shape (S, S) in and out.
    """
    walked = np.array(matrix, dtype=float).T.copy()
    walked[end] = 0.0
    totals = walked.sum(axis=1, keepdims=True)
    walked = np.divide(walked, totals, out=np.zeros_like(walked), where=totals > 0)
    walked[totals[:, 0] == 0, end] = 1.0
    return walked


def _summary(paths: npt.NDArray[np.int64], n_states: int, stop: tuple[int, ...]) -> tuple[float, float, FloatArray]:
    """Mean session length, share of sessions reaching a stop state, event mix (S,)."""
    recorded = paths[paths >= 0]
    mix = np.bincount(recorded, minlength=n_states) / max(recorded.size, 1)
    reached = np.isin(paths, stop).any(axis=1).mean() if stop else 0.0
    return float((paths >= 0).sum(axis=1).mean()), float(reached), mix


def walk_effects(behaviour: Behaviour, config: ErrataConfig) -> pd.DataFrame:
    """Sessions of each class three ways: as estimated (this book), on the transposed kernel
    (erratum 1), and started uniformly over event states instead of pi0 (erratum 3).

    Returns one row per (class, variant): mean length (events), share reaching
    ``checkout_start``, and the total-variation distance of the event mix from this book's.
    """
    rng = np.random.default_rng(config.seed)
    end, stop, s = behaviour.end, behaviour.stop, behaviour.n_states
    uniform = np.ones(s)
    uniform[end] = 0.0
    uniform /= uniform.sum()
    rows = []
    for cls, kernel in zip(CLASSES, (behaviour.human, behaviour.agent)):
        variants = {
            "this book": (kernel.matrix, kernel.pi0),
            "transposed kernel (erratum 1)": (transposed_kernel(kernel.matrix, end), kernel.pi0),
            "uniform start (erratum 3)": (kernel.matrix, uniform),
        }
        ours = None
        for variant, (matrix, pi0) in variants.items():
            paths = sample_paths(matrix, pi0, config.n_sessions, rng, config.max_len, end, stop)
            length, reached, mix = _summary(paths, s, stop)
            ours = mix if ours is None else ours
            rows.append({"class": cls, "variant": variant, "mean_length": length, "reach_checkout": reached,
                         "event_mix_tv": 0.5 * float(np.abs(mix - ours).sum())})
    return pd.DataFrame(rows)


def cart_weight_effect(trajectories: pd.DataFrame) -> dict[str, float]:
    """Erratum 2 on observed data: the demand proxy over products with the method's weights
    against the original's (``checkout_start``/``remove_item`` at the navigation weight).

    Args:
        trajectories: the trajectory table (columns ``event``, ``product``).

    Returns:
        ``max_change``: largest change of one product's normalised proxy (share points of 100);
        ``total_change``: half the summed absolute change (share points moved between products);
        ``reweighted_share``: share of events whose weight differs; ``n_products``.
    """
    table = trajectories[trajectories["product"].astype(str) != ""]
    codes, products = pd.factorize(table["product"].astype(str))
    ours = events.weights_of(table["event"])
    original = np.where(table["event"].isin(ORIGINAL_NAV_ACTIONS), events.CATEGORY_WEIGHTS["nav"], ours)
    _, q_ours = events.demand_proxy(codes, ours, len(products))
    _, q_original = events.demand_proxy(codes, original, len(products))
    change = np.abs(q_ours - q_original)
    return {"max_change": float(change.max(initial=0.0)), "total_change": float(0.5 * change.sum()),
            "reweighted_share": float((ours != original).mean()) if len(table) else 0.0,
            "n_products": float(len(products))}


def resample_effect(env_config: EnvConfig, behaviour: Behaviour, config: ErrataConfig) -> dict[str, float]:
    """Erratum 4: reward of the worst candidate's own sample (this book) against the original's
    fresh sample at the worst share, paired step by step under the static policy (scale 1).

    Returns the mean of each reward, their mean difference (ours - original) and its standard
    error, in reward units per step.
    """
    env = PhantomPricingEnv(env_config, behaviour)
    sampler = make_sampler(env_config.backend, behaviour, env_config.market)
    params = env_config.step_params()
    redraw = np.random.default_rng(config.seed + 1)
    static = int(np.argmin(np.abs(env_config.scales - 1.0)))
    env.reset(seed=config.seed)
    kept, fresh = [], []
    for _ in range(config.n_steps):
        before = env.state.prices
        _, reward, terminated, truncated, info = env.step(static)
        prices = env.state.prices
        again = sampler.sample(prices, [info["alpha_adv"]], redraw)
        terms = reward_terms(np, prices, again.q, again.f, price_terms(np, prices, before, params), params)
        kept.append(reward)
        fresh.append(float(terms["reward"][0]))
        if terminated or truncated:
            env.reset()
    diff = np.array(kept) - np.array(fresh)
    return {"kept": float(np.mean(kept)), "resampled": float(np.mean(fresh)), "difference": float(diff.mean()),
            "difference_se": float(diff.std(ddof=1) / np.sqrt(diff.size))}


def mixture_f_effect(
    behaviour: Behaviour, env_config: EnvConfig, alphas: npt.ArrayLike, config: ErrataConfig
) -> pd.DataFrame:
    """Erratum 6: the step agent probability f computed from sampled sessions (every backend
    here) against the original JAX path's closed form f = alpha, at the anchor prices.

    Returns one row per alpha: the computed f's mean and standard error over ``n_steps`` draws.
    """
    sampler = make_sampler("numpy", behaviour, env_config.market)
    rng = np.random.default_rng(config.seed)
    prices = np.full(env_config.market.n_products, env_config.anchor)
    alphas = np.asarray(alphas, dtype=float)
    f = np.stack([sampler.sample(prices, alphas, rng).f for _ in range(config.n_steps)])
    return pd.DataFrame({"alpha": alphas, "f_closed_form": alphas, "f_computed": f.mean(axis=0),
                         "f_computed_se": f.std(axis=0, ddof=1) / np.sqrt(config.n_steps)})
