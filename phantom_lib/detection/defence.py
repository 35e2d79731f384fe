"""The defence experiment in the market simulator (Model reference, sections 1, 4, 5).

Two questions, both answered on sessions drawn by the simulator's own pieces
(:mod:`phantom_lib.sim.market`, :mod:`phantom_lib.sim.samplers.numpy`):

1. Does excluding or down-weighting the sessions a detector flags give a demand proxy closer to
   the true human demand? For each agent share alpha and market draw: prices p0 ~ Uniform(p_low,
   p_high)^N (the environment's reset distribution), true demand d (human and agent rows, sums
   100), M sessions at alpha. Each session s gets a detector score f_s (:data:`DETECTORS`) and a
   weight w_s per mode (:data:`MODES`): ``off`` 1; ``exclude`` 1[f_s < threshold]; ``downweight``
   1 - f_s. The defended proxy is q_hat_i = sum_s w_s sum_{events of s on i} omega(event),
   normalised to sum 100. Reported: the error mean_i |q_i - d_H,i| (percentage points of demand
   share), the share of human sessions wrongly excluded (in ``downweight``: the mean weight
   humans lose), the share of agent weight removed, and revenue. Revenue: the platform reprices
   with the data-collection heuristic (:func:`events.surge_discount_prices`: x1.2 where q_i >=
   ``surge_high`` * 100/N, x0.9 where q_i <= ``surge_low`` * 100/N, clipped to [p_low, p_high])
   and earns p1 . d_H(p1), the human demand at the new prices from the same valuation draws (the
   environment's p.q with the true human demand in place of the proxy). The oracle reprices from
   d_H itself.

2. How much of a session-based markup leaks when agents split reconnaissance from a clean
   purchase? The platform quotes p_i (1 + markup * min(interest / interest_cap, 1)), interest =
   the omega-weighted events of the quoting session on product i. An agent runs ``depth``
   reconnaissance sessions (sampled from the agent chain), picks the product it showed most
   interest in, and buys it in a fresh session that holds only :attr:`ReconConfig.clean_path`.
   Observed revenue charges the clean session's interest; the oracle links the reconnaissance to
   the purchase and charges the summed interest. The difference is the cost of information that
   leaks, as a function of the reconnaissance depth.

The market's :class:`~phantom_lib.sim.market.MarketSample` reports only the aggregate proxy; the
defence needs every session, so :func:`sample_sessions` draws one market step with the numpy
backend's session walk (:meth:`NumpySampler.sessions`) in the sampler's order of random draws (its
aggregate proxy equals the sampler's q for the same generator state; a test checks this).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._arrays import FloatArray, IntArray
from phantom_lib._validation import (
    Choice,
    Each,
    Integer,
    Real,
    Rule,
    Text,
    Validated,
)
from phantom_lib.behaviour import distinguish
from phantom_lib.behaviour.kernels import demand_condition
from phantom_lib.data.events import surge_discount_prices, weights_of
from phantom_lib.sim.market import (
    F_UNSCORED,
    Behaviour,
    MarketConfig,
    agents_in_split,
    normalised_proxy,
    session_classes,
    true_demand,
)
from phantom_lib.sim.samplers.numpy import NumpySampler

MODES = ("off", "exclude", "downweight")
"""How flagged sessions enter the proxy: not at all touched, dropped when f >= threshold, weighted by 1 - f."""

DETECTORS = ("kl", "perfect")
"""Session scores available in the simulator: the KL-gap f against the behaviour's class centroids
(sessions with no score get 0.5), or the true class (an upper bound). Feature detectors need
timestamps and user agents, which the simulator does not model."""


# --------------------------------------------------------------------------------------------
# Sessions of one market step


@dataclass(frozen=True)
class MarketSessions:
    """Every session of one market step.

    Attributes:
        events: event index per position, shape (M, L), ``-1`` after the session ends.
        products: product index per position, shape (M, L), ``-1`` after the session ends.
        is_agent: class of each session, shape (M,) (the first n_A = floor(M alpha) are agents).
        demand: true demand per class at the step's prices, shape (2, N) (human, agent), rows sum to 100.
        z: the standard normal draws behind ``demand``, shape (2, 2, N) (to re-evaluate demand at other prices).
    """

    events: IntArray
    products: IntArray
    is_agent: IntArray
    demand: FloatArray
    z: FloatArray


def sessions_of(
    sampler: NumpySampler, classes: IntArray, condition: FloatArray, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Event and product paths of sessions of the given classes (:meth:`NumpySampler.sessions`),
    session-major and with products masked after the end.

    Args:
        classes: class per session, shape (n,) (0 human, 1 agent).
        condition: demand condition per class, shape (2, N), rows sum to 1.

    Returns:
        ``(events, products)``, each (n, L_max), ``-1`` after a session ends (``checkout_start``
        is recorded and ends the session, Model reference, section 5).
    """
    paths, products = sampler.sessions(classes, condition, rng)
    return paths.T.copy(), np.where(paths >= 0, products, -1).T.copy()


def sample_sessions(
    sampler: NumpySampler, prices: npt.ArrayLike, alpha: float, rng: np.random.Generator
) -> MarketSessions:
    """One market step of ``sampler`` at agent share ``alpha`` and prices p (N,), keeping every
    session (the same draws, in the same order, as :meth:`NumpySampler.sample` with one candidate)."""
    config = sampler.config
    prices = np.asarray(prices, dtype=float)
    if prices.shape != (config.n_products,):
        raise ValueError(f"prices must have shape ({config.n_products},) (N); got {prices.shape}")
    z = rng.standard_normal((2, 2, config.n_products))
    demand = true_demand(np, z, prices, config.mu, config.sd, config.noise_std)
    classes = session_classes(config.n_sessions, agents_in_split(config.n_sessions, [alpha])).ravel()
    events, products = sessions_of(sampler, classes, demand_condition(demand), rng)
    return MarketSessions(events, products, classes, demand, z)


def session_interest(events: IntArray, products: IntArray, weights: FloatArray, n_products: int) -> FloatArray:
    """omega-weighted events of each session on each product, shape (n, N) (a per-session proxy q_hat)."""
    recorded = events >= 0
    rows = np.broadcast_to(np.arange(events.shape[0])[:, None], events.shape)[recorded]
    flat = rows * n_products + products[recorded]
    out = np.bincount(flat, weights=weights[events[recorded]], minlength=events.shape[0] * n_products)
    return out.reshape(events.shape[0], n_products)


def session_scores(
    sessions: MarketSessions, behaviour: Behaviour, detector: str, temperature: float = 1.0
) -> FloatArray:
    """Agent probability of every session, shape (M,), by ``detector`` (one of :data:`DETECTORS`)."""
    if detector == "perfect":
        return sessions.is_agent.astype(float)
    if detector == "kl":
        counts = distinguish.pair_counts(sessions.events, behaviour.n_states)
        gap = distinguish.gaps(counts, behaviour.human_centroid, behaviour.agent_centroid)
        f = distinguish.agent_probability(gap, temperature)
        return np.where(np.isfinite(f), f, F_UNSCORED)
    raise ValueError(f"unknown detector {detector!r}; choose one of {DETECTORS}")


def session_weights(f: npt.ArrayLike, mode: str, threshold: float = 0.5) -> FloatArray:
    """Weight of each session in the proxy under ``mode`` (see :data:`MODES`), shape like ``f``."""
    f = np.asarray(f, dtype=float)
    if mode == "off":
        return np.ones_like(f)
    if mode == "exclude":
        return (f < threshold).astype(float)
    if mode == "downweight":
        return 1.0 - f
    raise ValueError(f"unknown defence mode {mode!r}; choose one of {MODES}")


def defended_proxy(interest: FloatArray, weights: npt.ArrayLike) -> FloatArray:
    """q = 100 q_hat / (sum q_hat + eps), q_hat = sum_s w_s interest[s] (Model reference, section 1); shape (N,).

    Args:
        interest: per-session proxy, shape (M, N) (:func:`session_interest`).
        weights: weight of each session, shape (M,), in [0, 1].
    """
    w = np.asarray(weights, dtype=float)
    if w.shape != interest.shape[:1]:
        raise ValueError(f"weights must have one entry per session, shape ({interest.shape[0]},); got {w.shape}")
    return normalised_proxy(np, w @ interest)


# --------------------------------------------------------------------------------------------
# 1. Defence off vs on across alpha


@dataclass(frozen=True)
class DefenceConfig(Validated):
    """The demand-proxy defence experiment.

    Attributes:
        alphas: agent shares to run, each in [0, 1].
        n_steps: market draws per alpha.
        detector: session score, one of :data:`DETECTORS`.
        threshold: ``exclude`` drops sessions with f >= threshold.
        temperature: T of the KL detector's sigmoid (nats).
        surge_high, surge_low: the repricing heuristic surges where q_i >= surge_high * 100/N and
            discounts where q_i <= surge_low * 100/N.
        p_low, p_high: price bounds (price units), also the range of the drawn base prices.
        seed: seed of the experiment's generator.
    """

    alphas: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    n_steps: int = 200
    detector: str = "kl"
    threshold: float = 0.5
    temperature: float = 1.0
    surge_high: float = 1.25
    surge_low: float = 0.75
    p_low: float = 10.0
    p_high: float = 150.0
    seed: int = 0

    _parameter_constraints = {
        "alphas": (Each(Real(low=0, high=1)),),
        "n_steps": (Integer(low=1),),
        "detector": (Choice(DETECTORS),),
        "threshold": (Real(low=0, high=1, low_open=True),),
        "temperature": (Real(low=0, low_open=True),),
        "surge_high": (
            Real(),
            Rule(lambda c: c.surge_low <= c.surge_high, "a finite number >= surge_low ({surge_low!r})"),
        ),
        "surge_low": (Real(low=0),),
        "p_low": (Real(low=0, low_open=True),),
        "p_high": (Real(), Rule(lambda c: c.p_low < c.p_high, "a finite number above p_low ({p_low!r})")),
        "seed": (Integer(low=0),),
    }


def reprice(prices: FloatArray, q: FloatArray, config: DefenceConfig) -> FloatArray:
    """The surge/discount response to a demand estimate q (sums 100), clipped to [p_low, p_high]."""
    fair = 100.0 / q.size
    new = surge_discount_prices(prices, q, config.surge_low * fair, config.surge_high * fair)
    return np.clip(new, config.p_low, config.p_high)


def human_revenue(prices: FloatArray, sessions: MarketSessions, market: MarketConfig) -> float:
    """p . d_H(p): the human demand (shares summing to 100) at ``prices`` from the step's draws, times prices."""
    demand = true_demand(np, sessions.z, prices, market.mu, market.sd, market.noise_std)
    return float(prices @ demand[0])


def defence_experiment(behaviour: Behaviour, market: MarketConfig, config: DefenceConfig) -> pd.DataFrame:
    """Run :class:`DefenceConfig` (see the module docstring, part 1).

    Returns:
        one row per (alpha, step, mode): ``alpha``, ``step``, ``mode``, ``error`` (mean |q - d_H|,
        percentage points), ``humans_excluded`` (share of human weight removed), ``agents_excluded``
        (share of agent weight removed; NaN without agents), ``revenue`` and ``oracle_revenue``
        (p1 . d_H(p1), price units x share points), ``empty`` (every session excluded).
    """
    rng = np.random.default_rng(config.seed)
    sampler = NumpySampler(behaviour, market)
    weights = behaviour.weights
    rows = []
    for alpha in config.alphas:
        for step in range(config.n_steps):
            prices = rng.uniform(config.p_low, config.p_high, market.n_products)
            sessions = sample_sessions(sampler, prices, float(alpha), rng)
            interest = session_interest(sessions.events, sessions.products, weights, market.n_products)
            f = session_scores(sessions, behaviour, config.detector, config.temperature)
            human = sessions.demand[0]
            oracle = human_revenue(reprice(prices, human, config), sessions, market)
            agent = sessions.is_agent == 1
            for mode in MODES:
                w = session_weights(f, mode, config.threshold)
                q = defended_proxy(interest, w)
                rows.append(
                    {
                        "alpha": float(alpha),
                        "step": step,
                        "mode": mode,
                        "error": float(np.mean(np.abs(q - human))),
                        "humans_excluded": float(np.mean(1.0 - w[~agent])) if (~agent).any() else np.nan,
                        "agents_excluded": float(np.mean(1.0 - w[agent])) if agent.any() else np.nan,
                        "revenue": human_revenue(reprice(prices, q, config), sessions, market),
                        "oracle_revenue": oracle,
                        "empty": bool(w.sum() == 0),
                    }
                )
    return pd.DataFrame(rows)


RATE_CONFIG = DefenceConfig(alphas=(0.5,), n_steps=100)
"""How :func:`detector_rates` measures by default: 100 market draws at alpha 0.5 (50 sessions of each class)."""


def detector_rates(
    behaviour: Behaviour, market: MarketConfig, config: DefenceConfig = RATE_CONFIG
) -> tuple[float, float]:
    """The detector's error rates under the ``exclude`` rule, as chapter 07's defence experiment measures them:
    ``(tpr, fpr)`` = the share of agent sessions and of human sessions flagged (f >= threshold), pooled
    over :func:`defence_experiment`'s draws (every draw has the same class counts at one alpha, so the
    mean of per-draw shares is the pooled share). The filtering defence's rates
    (``MarketConfig.filter_tpr`` / ``filter_fpr``) come from here."""
    if len(config.alphas) != 1 or not 0 < config.alphas[0] < 1:
        raise ValueError(
            f"DefenceConfig.alphas = {config.alphas!r}: expected one share strictly between 0 and 1 for detector_rates"
        )
    flagged = defence_experiment(behaviour, market, config).query("mode == 'exclude'")
    return float(flagged["agents_excluded"].mean()), float(flagged["humans_excluded"].mean())


def summarise_defence(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error over the steps of :func:`defence_experiment`, per (alpha, mode).

    Adds ``revenue_gap`` = revenue - oracle revenue and the paired differences from the
    undefended proxy on the same market draw, ``error_vs_off`` and ``revenue_vs_off`` (their
    standard errors are those of the per-step differences). Columns: ``<metric>`` and ``<metric>_se``.
    """
    off = results[results["mode"] == "off"].set_index(["alpha", "step"])[["error", "revenue"]]
    base = off.reindex(pd.MultiIndex.from_frame(results[["alpha", "step"]])).to_numpy()
    frame = results.assign(
        revenue_gap=results["revenue"] - results["oracle_revenue"],
        error_vs_off=results["error"].to_numpy() - base[:, 0],
        revenue_vs_off=results["revenue"].to_numpy() - base[:, 1],
    )
    metrics = [
        "error",
        "error_vs_off",
        "humans_excluded",
        "agents_excluded",
        "revenue",
        "revenue_vs_off",
        "oracle_revenue",
        "revenue_gap",
        "empty",
    ]
    grouped = frame.groupby(["alpha", "mode"], sort=True)[metrics]
    mean = grouped.mean()
    se = grouped.sem(ddof=1).add_suffix("_se")
    out = pd.concat([mean, se], axis=1).reset_index()
    out["mode"] = pd.Categorical(out["mode"], categories=MODES, ordered=True)
    return out.sort_values(["alpha", "mode"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# 2. Reconnaissance / clean purchase under a session-based markup


@dataclass(frozen=True)
class ReconConfig(Validated):
    """The reconnaissance/clean-purchase split (module docstring, part 2).

    Attributes:
        depths: reconnaissance sessions per purchase to compare (integers >= 0).
        n_agents: purchases (one per agent) per depth.
        markup: largest relative markup (0.2: up to +20 %).
        interest_cap: interest (omega units) at which the markup saturates.
        clean_path: the events of the clean purchase session, all on the purchased product.
        p_low, p_high: range of the base prices (drawn once, uniform).
        seed: seed of the experiment's generator.
    """

    depths: tuple[int, ...] = (0, 1, 2, 4, 8)
    n_agents: int = 500
    markup: float = 0.2
    interest_cap: float = 40.0
    clean_path: tuple[str, ...] = ("view_item_page", "add_item_to_cart", "checkout_start")
    p_low: float = 10.0
    p_high: float = 150.0
    seed: int = 0

    _parameter_constraints = {
        "depths": (Each(Integer(low=0)),),
        "n_agents": (Integer(low=1),),
        "markup": (Real(low=0),),
        "interest_cap": (Real(low=0, low_open=True),),
        "clean_path": (Each(Text("an event name")),),
        "p_low": (Real(low=0, low_open=True),),
        "p_high": (Real(), Rule(lambda c: c.p_low < c.p_high, "a finite number above p_low ({p_low!r})")),
        "seed": (Integer(low=0),),
    }


def markup_factor(interest: npt.ArrayLike, config: ReconConfig) -> FloatArray:
    """1 + markup * min(interest / interest_cap, 1), elementwise."""
    return 1.0 + config.markup * np.minimum(np.asarray(interest, dtype=float) / config.interest_cap, 1.0)


def recon_experiment(behaviour: Behaviour, market: MarketConfig, config: ReconConfig) -> pd.DataFrame:
    """Observed vs oracle revenue of agents who split reconnaissance from a clean purchase.

    For each depth r: base prices p ~ Uniform(p_low, p_high)^N (drawn once) and the agents'
    demand condition at p; every agent runs r sessions of the agent chain (products from its
    demand condition), targets the product with the most summed interest (a draw from the
    demand condition when r = 0), and buys it in a clean session.

    Returns:
        one row per depth: ``depth``, ``recon_events`` (mean events per agent),
        ``recon_interest`` (mean interest on the purchased product), ``observed_revenue`` and
        ``oracle_revenue`` (sums over the agents, price units), ``leak`` = oracle - observed,
        ``leak_share`` = leak / oracle.
    """
    rng = np.random.default_rng(config.seed)
    sampler = NumpySampler(behaviour, market)
    n = market.n_products
    prices = rng.uniform(config.p_low, config.p_high, n)
    demand = true_demand(np, rng.standard_normal((2, 2, n)), prices, market.mu, market.sd, market.noise_std)
    condition = demand_condition(demand)
    clean_interest = float(weights_of(config.clean_path).sum())
    observed_price = prices * markup_factor(clean_interest, config)
    rows = []
    for depth in config.depths:
        agents = config.n_agents
        if depth > 0:
            classes = np.ones(agents * depth, dtype=np.int64)
            events, products = sessions_of(sampler, classes, condition, rng)
            interest = session_interest(events, products, behaviour.weights, n).reshape(agents, depth, n).sum(axis=1)
            target = np.argmax(interest, axis=1)
            recon_events = (events >= 0).reshape(agents, depth, -1).sum(axis=(1, 2))
        else:
            interest = np.zeros((agents, n))
            target = np.minimum(np.searchsorted(np.cumsum(condition[1]), rng.random(agents), side="right"), n - 1)
            recon_events = np.zeros(agents)
        recon = interest[np.arange(agents), target]
        observed = observed_price[target].sum()
        oracle = (prices[target] * markup_factor(recon + clean_interest, config)).sum()
        rows.append(
            {
                "depth": depth,
                "recon_events": float(recon_events.mean()),
                "recon_interest": float(recon.mean()),
                "observed_revenue": float(observed),
                "oracle_revenue": float(oracle),
                "leak": float(oracle - observed),
                "leak_share": float((oracle - observed) / oracle),
            }
        )
    return pd.DataFrame(rows)


def at_alpha(
    summary: pd.DataFrame,
    alpha: float,
    metrics: Sequence[str] = (
        "error",
        "error_vs_off",
        "revenue",
        "revenue_vs_off",
        "humans_excluded",
        "agents_excluded",
    ),
) -> pd.DataFrame:
    """The rows of :func:`summarise` at one ``alpha``, one row per mode, the chosen metrics with standard errors."""
    rows = summary[np.isclose(summary["alpha"], alpha)]
    if rows.empty:
        raise ValueError(f"alpha {alpha} was not run; run it with DefenceConfig.alphas")
    columns = [c for m in metrics for c in (m, f"{m}_se")]
    return rows.set_index("mode")[columns]
