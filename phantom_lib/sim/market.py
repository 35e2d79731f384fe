"""The market (follower) of the pricing game: true demand, sessions, demand proxy, f (Model reference, section 5).

Given prices p (N,) and a share of agent sessions alpha, one market draw

1. draws true demand per class Y in (human, agent): valuation v ~ Normal(mu_Y, sd_Y) and noise
   ~ Normal(0, noise_std) per product, d_Y = max(0, v - p + noise), normalised to sum 100;
2. splits the M sessions: n_A = floor(M * alpha) agent sessions, n_H = M - n_A human ones;
3. samples each class's sessions from its event kernel expanded with the demand condition
   c_Y = d_Y / sum(d_Y) (uniform if all zero): start (event ~ pi0_Y, product ~ c_Y), then step
   until ``session_end`` or ``checkout_start`` is reached or L_max states are recorded. In the
   factorised form of the expansion the next product is drawn from c_Y whatever the current
   one, so an event path and i.i.d. product draws give the expanded chain's distribution;
4. returns the demand proxy q (N,) over all M sessions, the step's purchases (sales: a session
   absorbed at ``checkout_start`` buys one unit of that state's product; Model reference,
   section 12; agents only if ``MarketConfig.agents_buy``) and the step's agent probability
   f = mean f(s) over the sessions that can be scored (section 4). The proxy is one of
   :data:`PROXIES` (``MarketConfig.proxy``, Model reference, section 10): ``"share"`` (the
   default, section 1) q = 100 * q_hat / sum(q_hat), or ``"mass"`` q = q_hat / M, the mean
   omega-weighted mass a session puts on each product (no normalisation), where q_hat_i is the
   omega-weighted count of the states on product i over the M sessions.

With ``MarketConfig.visits = "price_responsive"`` (:data:`VISITS`; our extension, not the
thesis's: Model reference, section 10) true demand keeps its scale relative to the free-goods
demand (prices at zero), d_Y = 100 r_Y / sum(R_Y), and each of a class's sessions visits with
probability rho_Y = sum(d_Y) / 100 (:func:`visit_probability`); sessions that do not visit
record nothing.

The robust pricing loop scores K candidate shares alpha_k at the same prices. True demand
depends on prices, not on alpha, so it is drawn once per market step and shared by the K
candidates; each candidate draws its own M sessions. A backend (``phantom_lib.sim.samplers``)
implements :class:`Sampler`: :meth:`Sampler.draw_demand` draws the true demand of a step and
:meth:`Sampler.sample_at` the sessions of all K candidates at that demand (the closed-form
adversary of section 10 chooses its share between the two).

Class order everywhere: index 0 = human, 1 = agent.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from phantom_lib._arrays import FloatArray, IntArray
from phantom_lib._validation import (
    Boolean,
    Choice,
    Integer,
    OrNone,
    Real,
    Rule,
    Text,
    Validated,
)
from phantom_lib.behaviour import kl
from phantom_lib.behaviour.model import Behaviour
from phantom_lib.data.events import PROXY_EPS

F_UNSCORED = 0.5
"""Step agent probability when no session of the step can be scored (sigmoid(0): no evidence)."""

PROXIES = ("share", "mass")
"""Demand proxies (``MarketConfig.proxy``): normalised shares (section 1) or mean mass per session (section 10)."""

VISITS = ("fixed", "price_responsive")
"""How many of a step's sessions visit (``MarketConfig.visits``): all M, or each with its class's
visit probability rho_Y (our extension, Model reference, section 10)."""

SHARE_TOTAL = 100.0
"""The share proxy sums to this (percent)."""

SPLIT_GUARD = 1e-9
"""Added to M * alpha before the floor so that binary rounding (0.7 * 10 = 6.999...) does not drop a session."""


def _frozen(values: list[float]) -> FloatArray:
    """A read-only float array (safe to cache on a frozen config)."""
    array = np.array(values, dtype=float)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class MarketConfig(Validated):
    """Parameters of the market (Model reference, section 5).

    Attributes:
        n_products: N, products in the catalogue (>= 1).
        n_sessions: M, sessions sampled per market draw (>= 1).
        human_mu, human_sd: mean and standard deviation of human valuations (price units).
        agent_mu, agent_sd: the same for agents.
        noise_std: standard deviation of the demand noise (price units).
        max_len: L_max, the most states a session records (>= 1).
        temperature: T of the agent probability f = sigmoid(gap / T) (> 0).
        data_source: where the behaviour kernels are estimated from when no
            :class:`~phantom_lib.behaviour.Behaviour` is passed: ``"standin"`` (the shipped
            synthetic file) or the path of a ``whoclicked.csv`` file.
        proxy: the demand proxy, one of :data:`PROXIES` (Model reference, section 10):
            ``"share"`` (default) or ``"mass"``.
        visits: which sessions visit the shop, one of :data:`VISITS`. ``"fixed"`` (default, the
            thesis's market): all M, whatever the prices. ``"price_responsive"`` is **our
            extension, not the thesis's** (Model reference, section 10): with raw demand
            r_{Y,i} = max(0, v_{Y,i} - p_i + noise_{Y,i}) (price units) and its free-goods
            reference R_{Y,i} = max(0, v_{Y,i} + noise_{Y,i}) from the same draws, each of the
            n_Y sessions of class Y visits independently with probability
            rho_Y = sum_i r_{Y,i} / sum_i R_{Y,i} (1 at zero prices, 0 once every price exceeds
            every valuation, 0 when sum_i R_{Y,i} = 0), so visiting sessions ~ Binomial(n_Y, rho_Y);
            visiting sessions are sampled as with ``"fixed"`` (products from c_Y), the others
            record nothing, and f is the mean over the visiting sessions that can be scored.
            Meant for ``proxy = "mass"`` (q = q_hat / M over all M sessions, so fewer visitors
            mean less demand); with ``"share"`` the normalisation hides the lost visitors (q
            still sums to 100 while anyone visits). True demand is then reported in share points
            of the free-goods demand (rows sum to 100 rho_Y).
        agents_buy: whether agent sessions buy (Model reference, section 12): ``True`` (default)
            an agent session absorbed at checkout buys one unit on behalf of a person, like a
            human session; ``False`` agents only reconnoitre: they never buy, but their states
            still count in the proxy.
        path_reuse: numpy backend (Model reference, section 11): how many sessions one walked
            event path serves on average. 1 (default): every session is a fresh path, so market
            draws are independent. Above 1 a step's sessions are distinct paths drawn from a
            pool (each draw keeps its exact distribution) but draws of different steps may share
            paths: faster, and averages over many steps vary up to ``path_reuse`` times more
            than with fresh paths (they rest on fewer distinct paths).
        filter_tpr, filter_fpr: the filtering defence (Model reference, section 12), both ``None``
            (default: no filter) or both in [0, 1]: a detector flags each visiting agent session
            with probability ``filter_tpr`` and each visiting human session with ``filter_fpr``;
            flagged sessions are dropped before q is computed (a person flagged is lost signal, an
            agent missed stays in), while every visitor still buys and counts in f. Backends
            ``reference`` and ``jax`` only.
    """

    n_products: int = 10
    n_sessions: int = 100
    human_mu: float = 50.0
    human_sd: float = 10.0
    agent_mu: float = 45.0
    agent_sd: float = 15.0
    noise_std: float = 1.0
    max_len: int = 40
    temperature: float = 1.0
    data_source: str = "standin"
    proxy: str = "share"
    visits: str = "fixed"
    path_reuse: int = 1
    agents_buy: bool = True
    filter_tpr: float | None = None
    filter_fpr: float | None = None

    _parameter_constraints = {
        "n_products": (Integer(low=1),),
        "n_sessions": (Integer(low=1),),
        "max_len": (Integer(low=1),),
        "path_reuse": (Integer(low=1),),
        "human_mu": (Real(),),
        "agent_mu": (Real(),),
        "human_sd": (Real(low=0),),
        "agent_sd": (Real(low=0),),
        "noise_std": (Real(low=0),),
        "temperature": (Real(low=0, low_open=True),),
        "data_source": (Text("'standin' or the path of a whoclicked.csv file"),),
        "proxy": (Choice(PROXIES),),
        "visits": (Choice(VISITS),),
        "agents_buy": (Boolean(),),
        "filter_tpr": (OrNone(Real(low=0, high=1)),),
        "filter_fpr": (
            OrNone(Real(low=0, high=1)),
            Rule(lambda c: (c.filter_tpr is None) == (c.filter_fpr is None),
                 "set together with filter_tpr (got filter_tpr = {filter_tpr!r}): both None (no filter) or both rates"),
        ),
    }

    @property
    def filter_keep(self) -> tuple[float, float] | None:
        """Probability that a visiting session is kept in q, per class (human 1 - fpr, agent 1 - tpr),
        or ``None`` without the filtering defence."""
        if self.filter_tpr is None or self.filter_fpr is None:
            return None
        return (1.0 - float(self.filter_fpr), 1.0 - float(self.filter_tpr))

    @functools.cached_property
    def buyers(self) -> FloatArray:
        """1.0 for each class whose sessions buy, shape (2,) (human, agent): (1, 1) or (1, 0)."""
        return _frozen([1.0, float(self.agents_buy)])

    @functools.cached_property
    def mu(self) -> FloatArray:
        """Valuation means per class, shape (2,) (human, agent); read-only, built once."""
        return _frozen([self.human_mu, self.agent_mu])

    @functools.cached_property
    def sd(self) -> FloatArray:
        """Valuation standard deviations per class, shape (2,); read-only, built once."""
        return _frozen([self.human_sd, self.agent_sd])

    @functools.cached_property
    def columns(self) -> tuple[FloatArray, FloatArray]:
        """:attr:`mu` and :attr:`sd` as columns, shape (2, 1) each (what :func:`true_demand` broadcasts)."""
        mu, sd = self.mu[:, None], self.sd[:, None]
        return mu, sd


def absorbing_chains(behaviour: Behaviour) -> tuple[FloatArray, FloatArray]:
    """Both class chains with stop states re-wired to ``session_end``.

    Returns:
        ``(matrices, pi0)``, shapes (2, S, S) and (2, S), class order human, agent: a stop
        state (``checkout_start``) is recorded and then moves to the absorbing ``session_end``.
    """
    matrices = behaviour.matrices.copy()
    for stop in behaviour.stop:
        matrices[:, stop, :] = 0.0
        matrices[:, stop, behaviour.end] = 1.0
    return matrices, behaviour.pi0


def agents_in_split(n_sessions: int, alphas: npt.ArrayLike) -> IntArray:
    """n_A = floor(M * alpha) for each candidate share, shape like ``alphas``."""
    alphas = np.asarray(alphas, dtype=float)
    if alphas.size and not (alphas.min() >= 0 and alphas.max() <= 1):  # NaN fails both comparisons
        raise ValueError(f"agent shares alpha must lie in [0, 1]; got {alphas}")
    return np.floor(n_sessions * alphas + SPLIT_GUARD).astype(np.int64)


def session_classes(n_sessions: int, n_agents: IntArray) -> IntArray:
    """Class of each session per candidate, shape (K, M): the first n_A(k) sessions are agents (1)."""
    return (np.arange(n_sessions)[None, :] < np.asarray(n_agents)[:, None]).astype(np.int64)


def true_demand(xp: Any, z: Any, prices: Any, mu: Any, sd: Any, noise_std: Any, visits: str = "fixed") -> Any:
    """True demand per class from standard normal draws (share points).

    Works with ``xp`` = numpy or jax.numpy so every backend shares the formula.

    Args:
        z: standard normal draws, shape (2, 2, N): ``z[0]`` valuations, ``z[1]`` noise, rows = class.
        prices: p, shape (N,) (price units, >= 0).
        mu, sd: valuation mean and sd per class, shape (2,) or (2, 1); noise_std: scalar.
        visits: one of :data:`VISITS` (static).

    Returns:
        d, shape (2, N), from the raw demand r_Y = max(0, v - p + noise): ``"fixed"``:
        d_Y = 100 r_Y / sum(r_Y) (rows sum to 100; all-zero rows stay zero);
        ``"price_responsive"``: d_Y = 100 r_Y / sum(R_Y) with the free-goods demand
        R_Y = max(0, v + noise) of the same draws (rows sum to 100 rho_Y, zero where
        sum(R_Y) = 0). Both give the same demand condition d_Y / sum(d_Y).
    """
    if mu.ndim == 1:
        mu, sd = mu[:, None], sd[:, None]
    raw = xp.maximum(0.0, mu + sd * z[0] - prices + noise_std * z[1])
    scale = xp.maximum(0.0, mu + sd * z[0] + noise_std * z[1]) if visits == "price_responsive" else raw
    total = scale.sum(axis=1, keepdims=True)
    return 100.0 * raw / xp.where(total > 0, total, 1.0)


def visit_probability(xp: Any, demand: Any) -> Any:
    """rho_Y = sum_i d_{Y,i} / 100 clipped to [0, 1], shape (2,), for price-responsive demand (2, N).

    With :func:`true_demand`'s ``"price_responsive"`` scaling this is sum_i r_{Y,i} / sum_i R_{Y,i}:
    the probability that one session of class Y visits (our extension, Model reference, section 10).
    """
    return xp.clip(demand.sum(axis=1) / SHARE_TOTAL, 0.0, 1.0)


def normalised_proxy(xp: Any, q_hat: Any) -> Any:
    """q = 100 * q_hat / (sum_j q_hat_j + eps) along the last axis (Model reference, section 1), any batch shape."""
    return SHARE_TOTAL * (q_hat / (q_hat.sum(axis=-1, keepdims=True) + PROXY_EPS))  # <= 100 in float32 too


def market_proxy(xp: Any, q_hat: Any, proxy: str, n_sessions: int) -> Any:
    """The demand proxy of ``proxy`` (one of :data:`PROXIES`) from omega-weighted counts.

    Args:
        q_hat: omega-weighted state counts per product over the M sessions, shape (..., N).
        proxy: ``"share"``: :func:`normalised_proxy` (sums to 100); ``"mass"``: q_hat / M, the
            mean weighted mass per session on each product (Model reference, section 10).
        n_sessions: M.
    """
    if proxy == "mass":
        return q_hat / n_sessions
    return normalised_proxy(xp, q_hat)


def proxy_bound(config: MarketConfig, weights: FloatArray) -> float:
    """The largest value one product's proxy can take: 100 (share) or L_max * max(omega) (mass)."""
    if config.proxy == "mass":
        return float(config.max_len * np.max(weights))
    return SHARE_TOTAL


def search_cdf(xp: Any, probabilities: Any) -> Any:
    """CDF along the last axis with the last entry +inf, so that an inverse-CDF search
    ``(cdf <= u).sum()`` for u in [0, 1) never runs past the last state, whatever the rounding."""
    head = xp.cumsum(probabilities[..., :-1], axis=-1)
    return xp.concatenate([head, xp.full(probabilities.shape[:-1] + (1,), xp.inf)], axis=-1)


def weight_categories(weights: FloatArray, end: int) -> tuple[FloatArray, IntArray]:
    """The distinct omega of the recordable states and each state's category.

    Args:
        weights: omega per state, shape (S,). end: index of ``session_end`` (never recorded).

    Returns:
        ``(omega_g, category)``: sorted distinct weights, shape (G,), and the category of each
        state, int shape (S,) (``session_end`` gets the category of its weight; it never counts).
    """
    recordable = np.delete(weights, end)
    omega = np.unique(recordable)
    return omega, np.searchsorted(omega, weights).clip(0, omega.size - 1)


def step_agent_probability(
    paths: IntArray, behaviour: Behaviour, temperature: float
) -> FloatArray:
    """Per-candidate agent probability: mean f(s) over the sessions that can be scored.

    Args:
        paths: event paths, shape (K, M, L), ``-1`` after a session ends.
        behaviour: supplies the class centroids.
        temperature: T of the sigmoid.

    Returns:
        f, shape (K,): mean of f(s) = sigmoid(g(s)/T) over sessions with a finite gap (at least
        2 events and a source event the centroids observe); :data:`F_UNSCORED` if there is none.
    """
    k, m, length = paths.shape
    counts = kl.pair_counts(paths.reshape(k * m, length), behaviour.n_states)
    gap = kl.gaps(counts, behaviour.human_centroid, behaviour.agent_centroid).reshape(k, m)
    f = kl.agent_probability(gap, temperature)
    scored = np.isfinite(f)
    n_scored = scored.sum(axis=1)
    total = np.where(scored, f, 0.0).sum(axis=1)
    return np.divide(total, n_scored, out=np.full(k, F_UNSCORED), where=n_scored > 0)


@dataclass(frozen=True)
class MarketSample:
    """One market draw for K candidate shares at the same prices.

    Attributes:
        q: demand proxy per candidate, shape (K, N): with the share proxy each row sums to 100
            (0 if no event), with the mass proxy to the mean weighted mass per session.
        f: step agent probability per candidate, shape (K,).
        demand: true demand per class (shared by the candidates), shape (2, N), rows sum to 100
            (100 rho_Y with price-responsive visits, :func:`true_demand`).
        n_states: session states sampled per candidate, shape (K,) (the work done).
        sales: units bought per candidate and product, int shape (K, N): one unit of the product of
            each visiting session's ``checkout_start`` state (agents' only with
            ``MarketConfig.agents_buy``; Model reference, section 12).
    """

    q: FloatArray
    f: FloatArray
    demand: FloatArray
    n_states: IntArray
    sales: IntArray


class Sampler(ABC):
    """A market backend: samples all K candidates of a robust step for given prices.

    Subclasses set :attr:`name` and implement :meth:`sample_at`; they compute the same model
    and differ only in how (see ``phantom_lib.sim.samplers``).
    """

    name: ClassVar[str]

    def __init__(self, behaviour: Behaviour, config: MarketConfig) -> None:
        self.behaviour = behaviour
        self.config = config

    def sample(
        self, prices: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator
    ) -> MarketSample:
        """Draw true demand once (:meth:`draw_demand`), then M sessions for each candidate share.

        Args:
            prices: p, shape (N,) (price units).
            alphas: candidate agent shares, shape (K,), each in [0, 1].
            rng: the caller's seeded generator (the only source of randomness).
        """
        return self.sample_at(self.draw_demand(prices, rng), alphas, rng)

    def draw_demand(self, prices: npt.ArrayLike, rng: np.random.Generator) -> FloatArray:
        """True demand per class at prices p (N,) (:func:`true_demand` with ``config.visits``), shape
        (2, N): rows sum to 100 (or are zero); with price-responsive visits to 100 rho_Y."""
        cfg = self.config
        prices = self._check_prices(prices)
        return true_demand(
            np, rng.standard_normal((2, 2, cfg.n_products)), prices, *cfg.columns, cfg.noise_std, cfg.visits
        )

    @abstractmethod
    def sample_at(
        self, demand: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator
    ) -> MarketSample:
        """M sessions for each candidate share in ``alphas`` (K,) at true demand ``demand`` (2, N).

        Each class's sessions follow its kernel expanded with the demand condition
        c_Y = demand_Y / sum(demand_Y) (uniform where a row is all zero). With
        ``config.visits = "price_responsive"`` each session visits with probability
        :func:`visit_probability` of its class and the others record nothing.
        """

    def _check_prices(self, prices: npt.ArrayLike) -> FloatArray:
        if type(prices) is not np.ndarray or prices.dtype != np.float64:
            prices = np.asarray(prices, dtype=float)
        if prices.shape != (self.config.n_products,):
            raise ValueError(f"prices must have shape ({self.config.n_products},) (N); got {prices.shape}")
        return prices
