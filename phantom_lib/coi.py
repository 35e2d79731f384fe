"""Cost of Information: price distributions, the expected lowest quote, erosion and rates (Model reference, section 2).

A pricing policy quotes prices drawn from a distribution F on the bounds [p_min, p_max], where
p_min is the minimum viable price. Its premium is

    COI_level(F) = E[P] - p_min                                    (price units).

With n independent agents, each seeing one quote and the buyer taking the lowest, the price paid
is the first order statistic p_(1) and

    COI(n) = E[p_(1)] - p_min = integral_{p_min}^{p_max} (1 - F(t))^n dt,

which falls to (lowest point of the support) - p_min as n grows: to zero when the support
reaches p_min (the COI theorem). Near p_min the rate is set by the lower tail of F: if
F(p_min + x) ~ C x^k as x -> 0+, then COI(n) ~ Gamma(1 + 1/k) (C n)^(-1/k), a log-log slope of
-1/k. A positive density f(p_min) gives k = 1 and COI(n) ~ 1/(n f(p_min)); an atom at p_min makes
the decay geometric; a density that vanishes at p_min (k > 1) makes it slower than 1/n.

This module computes COI(n) three ways (closed form where one exists, the survival integral by
quadrature, Monte Carlo with a standard error), the erosion curve, fitted and predicted rate
slopes, the surge-discount heuristic's price distribution, the erosion of observed price logs
(each product's empirical quote distribution), the per-quote leak COI_leak used in training, and a
collusive variant outside the theorem's scope. Every price is in price units. The module runs past
500 lines because it is one concept: the distributions, the three methods and the rates share
:class:`PriceDistribution` and are tested against each other.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import integrate, optimize, special

from phantom_lib._arrays import FloatArray
from phantom_lib._validation import check, is_real, real, relation
from phantom_lib.data.events import surge_discount_prices

MC_CHUNK = 2**20
"""Monte Carlo draws (quotes) held in memory at once."""


def check_n(n: int, name: str = "n") -> int:
    """``n`` (a number of searching agents) as an int if it is an integer >= 1, else ``ValueError``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} (number of searching agents) must be an integer >= 1; got {n!r}")
    return int(n)


class PriceDistribution(ABC):
    """A pricing policy's quote distribution F on the bounds [p_min, p_max] (price units).

    Subclasses give the survival function in terms of the offset x = t - p_min (so prices just
    above p_min keep full float resolution), a sampler, the offsets where F jumps or has a kink
    (quadrature integrates piecewise between them), the closed form of COI(n) where one exists,
    and the lower-tail law F(p_min + x) ~ C x^k that sets the rate.
    """

    p_min: float
    p_max: float

    def _check(self, *problems: str | None) -> None:
        """Check p_min < p_max (finite prices) and the subclass's ``problems`` in one error, then
        store the bounds as floats (subclasses are frozen dataclasses)."""
        owner = type(self).__name__
        lo, hi = self.p_min, self.p_max
        check(
            owner,
            real(owner, "p_min", lo),
            real(owner, "p_max", hi),
            relation(owner, "p_max", hi, not (is_real(lo) and is_real(hi)) or lo < hi,
                     f"above p_min ({lo!r}): swap them or widen the bounds"),
            *problems,
        )
        object.__setattr__(self, "p_min", float(lo))
        object.__setattr__(self, "p_max", float(hi))

    @property
    def width(self) -> float:
        """p_max - p_min (price units)."""
        return self.p_max - self.p_min

    @property
    def support_min(self) -> float:
        """Lowest point of the support: the limit of E[p_(1)] as n grows (price units)."""
        return self.p_min

    @property
    @abstractmethod
    def lower_tail(self) -> tuple[float, float] | None:
        """``(k, C)`` with F(p_min + x) ~ C x^k as x -> 0+ (x in price units), or ``None`` when
        F has an atom at the bottom of its support (no power law)."""

    @abstractmethod
    def survival(self, x: npt.ArrayLike) -> FloatArray:
        """P(P > p_min + x) for offsets x >= 0 (price units), elementwise, same shape as ``x``."""

    @abstractmethod
    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
        """``size`` independent quotes (price units)."""

    def breakpoints(self) -> FloatArray:
        """Sorted offsets in [0, p_max - p_min], ends included, between which F is smooth."""
        return np.array([0.0, self.width])

    def closed_form_coi(self, n: int) -> float | None:
        """COI(n) in closed form, or ``None`` when there is none. ``n`` is already validated."""
        return None


@dataclass(frozen=True)
class Uniform(PriceDistribution):
    """Uniform on [p_min, p_max]: COI(n) = (p_max - p_min)/(n + 1)."""

    p_min: float
    p_max: float

    def __post_init__(self) -> None:
        self._check()

    @property
    def lower_tail(self) -> tuple[float, float]:
        return 1.0, 1.0 / self.width

    def survival(self, x: npt.ArrayLike) -> FloatArray:
        return np.clip(1.0 - np.asarray(x, dtype=float) / self.width, 0.0, 1.0)

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
        return rng.uniform(self.p_min, self.p_max, size)

    def closed_form_coi(self, n: int) -> float:
        return self.width / (n + 1)


@dataclass(frozen=True)
class ClippedExponential(PriceDistribution):
    """Shifted exponential p_min + Exp(mean ``scale``), clipped at p_max.

    Quotes the exponential would put above p_max are quoted at p_max (an atom of mass
    exp(-(p_max - p_min)/scale) there), as the pricing environment clips prices to its bounds.
    COI(n) = (scale/n) (1 - exp(-n (p_max - p_min)/scale)); f(p_min) = 1/scale.
    """

    p_min: float
    p_max: float
    scale: float

    def __post_init__(self) -> None:
        self._check(real("ClippedExponential", "scale", self.scale, low=0, low_open=True))
        object.__setattr__(self, "scale", float(self.scale))

    @property
    def lower_tail(self) -> tuple[float, float]:
        return 1.0, 1.0 / self.scale

    def survival(self, x: npt.ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=float)
        return np.where(x < self.width, np.exp(-x / self.scale), 0.0)

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
        return np.minimum(self.p_min + rng.exponential(self.scale, size), self.p_max)

    def closed_form_coi(self, n: int) -> float:
        return self.scale / n * -math.expm1(-n * self.width / self.scale)


@dataclass(frozen=True)
class Beta(PriceDistribution):
    """Beta(alpha, beta) scaled to [p_min, p_max].

    Near p_min, F(p_min + x) ~ C x^alpha, so the rate is n^(-1/alpha): alpha = 1 gives a positive
    density at p_min, alpha > 1 a density that vanishes there. Closed forms exist for alpha = 1,
    COI(n) = (p_max - p_min)/(beta n + 1), and for beta = 1,
    COI(n) = (p_max - p_min) B(1/alpha, n + 1)/alpha; otherwise ``closed_form_coi`` is ``None``.
    """

    p_min: float
    p_max: float
    alpha: float
    beta: float

    def __post_init__(self) -> None:
        self._check(*(real("Beta", name, getattr(self, name), low=0, low_open=True) for name in ("alpha", "beta")))
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "beta", float(self.beta))

    @property
    def lower_tail(self) -> tuple[float, float]:
        a, b = self.alpha, self.beta
        return a, 1.0 / (a * special.beta(a, b) * self.width**a)

    def survival(self, x: npt.ArrayLike) -> FloatArray:
        return special.betaincc(self.alpha, self.beta, np.clip(np.asarray(x, dtype=float) / self.width, 0.0, 1.0))

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
        return self.p_min + self.width * rng.beta(self.alpha, self.beta, size)

    def closed_form_coi(self, n: int) -> float | None:
        if self.alpha == 1.0:
            return self.width / (self.beta * n + 1)
        if self.beta == 1.0:
            return self.width * float(special.beta(1.0 / self.alpha, n + 1)) / self.alpha
        return None


@dataclass(frozen=True, eq=False)
class DiscretePrices(PriceDistribution):
    """A discrete price grid: quote ``prices[j]`` with probability ``weights[j]/sum(weights)``.

    ``prices`` and ``weights`` have shape (K,); on construction they are sorted, duplicates merged
    and the weights normalised. With x_0 < ... < x_{K-1} and S_j = P(P > x_j),
    COI(n) = (x_0 - p_min) + sum_j (x_{j+1} - x_j) S_j^n, which tends to x_0 - p_min.
    """

    p_min: float
    p_max: float
    prices: FloatArray
    weights: FloatArray

    def __post_init__(self) -> None:
        owner = "DiscretePrices"
        prices = np.asarray(self.prices, dtype=float)
        weights = np.asarray(self.weights, dtype=float)
        shaped = prices.ndim == 1 and prices.size > 0 and prices.shape == weights.shape
        finite = bool(np.isfinite(prices).all() and np.isfinite(weights).all())
        lo, hi = self.p_min, self.p_max
        inside = not (shaped and finite and is_real(lo) and is_real(hi)) or (prices.min() >= lo and prices.max() <= hi)
        self._check(
            relation(owner, "prices", self.prices, shaped, f"a non-empty 1-D array shaped like weights "
                                                           f"{weights.shape}"),
            relation(owner, "prices", self.prices, finite, "finite prices and weights"),
            relation(owner, "prices", self.prices, inside,
                     f"prices inside the bounds [p_min, p_max] = [{lo}, {hi}]: widen the bounds or clip the prices"),
            relation(owner, "weights", self.weights,
                     not (shaped and finite) or ((weights >= 0).all() and weights.sum() > 0),
                     "non-negative weights with a positive sum"),
        )
        keep = weights > 0
        grid, inverse = np.unique(prices[keep], return_inverse=True)
        mass = np.bincount(inverse, weights=weights[keep])
        object.__setattr__(self, "prices", grid)
        object.__setattr__(self, "weights", mass / mass.sum())

    @classmethod
    def from_sample(cls, quotes: npt.ArrayLike, p_min: float, p_max: float) -> DiscretePrices:
        """The empirical distribution of observed quotes (any shape, flattened)."""
        q = np.asarray(quotes, dtype=float).ravel()
        return cls(p_min, p_max, q, np.ones_like(q))

    @property
    def _tail(self) -> FloatArray:
        """``tail[j] = P(P >= x_j)``, shape (K + 1,) with ``tail[K] = 0`` (summed from the top for accuracy)."""
        return np.append(np.cumsum(self.weights[::-1])[::-1], 0.0)

    @property
    def support_min(self) -> float:
        return float(self.prices[0])

    @property
    def lower_tail(self) -> None:
        return None

    def survival(self, x: npt.ArrayLike) -> FloatArray:
        return self._tail[np.searchsorted(self.prices - self.p_min, np.asarray(x, dtype=float), side="right")]

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
        return rng.choice(self.prices, size=size, p=self.weights)

    def breakpoints(self) -> FloatArray:
        return np.unique(np.concatenate([[0.0], self.prices - self.p_min, [self.width]]))

    def closed_form_coi(self, n: int) -> float:
        gaps = np.diff(self.prices)
        return float(self.prices[0] - self.p_min + np.sum(gaps * self._tail[1:-1] ** n))


@dataclass(frozen=True)
class AtomAtMin(PriceDistribution):
    """``base`` with an extra atom of mass ``weight`` at p_min (bounds are the base's).

    1 - F(t) = (1 - weight)(1 - F_base(t)), so COI(n) = (1 - weight)^n COI_base(n): geometric decay,
    faster than any power of n.
    """

    base: PriceDistribution
    weight: float

    def __post_init__(self) -> None:
        owner = "AtomAtMin"
        check(
            owner,
            relation(owner, "base", self.base, isinstance(self.base, PriceDistribution), "a PriceDistribution"),
            real(owner, "weight", self.weight, low=0, high=1, low_open=True, high_open=True),
        )
        object.__setattr__(self, "weight", float(self.weight))

    @property
    def p_min(self) -> float:  # type: ignore[override]
        return self.base.p_min

    @property
    def p_max(self) -> float:  # type: ignore[override]
        return self.base.p_max

    @property
    def lower_tail(self) -> None:
        return None

    def survival(self, x: npt.ArrayLike) -> FloatArray:
        return (1.0 - self.weight) * self.base.survival(x)

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
        at_min = rng.random(size) < self.weight
        return np.where(at_min, self.p_min, self.base.sample(rng, size))

    def breakpoints(self) -> FloatArray:
        return self.base.breakpoints()

    def closed_form_coi(self, n: int) -> float | None:
        base = self.base.closed_form_coi(n)
        return None if base is None else (1.0 - self.weight) ** n * base


def surge_discount_distribution(
    base_prices: npt.ArrayLike,
    q_hat: npt.ArrayLike,
    rho_low: float,
    rho_high: float,
    p_min: float,
    p_max: float,
    surge: float = 1.2,
    discount: float = 0.9,
) -> DiscretePrices:
    """Quote distribution of the surge-discount heuristic (Model reference, section 1).

    Prices come from :func:`phantom_lib.data.events.surge_discount_prices` (``base_prices`` and
    ``q_hat`` broadcast together, e.g. one base price against a (T,) demand series, or (N,)
    against (T, N)); the distribution gives every resulting quote equal weight.
    """
    quotes = surge_discount_prices(*np.broadcast_arrays(base_prices, q_hat), rho_low, rho_high, surge, discount)
    return DiscretePrices.from_sample(quotes, p_min, p_max)


QUAD_FLOOR = 1e-13
"""In a falling piece, quadrature starts this fraction of the half-width away from the piece's left
end; the sliver below it counts at the integrand's left value (relative error below 1e-13)."""


def coi_quadrature(dist: PriceDistribution, n: int) -> float:
    """COI(n) = integral of (1 - F(p_min + x))^n over offsets x in [0, p_max - p_min], by adaptive quadrature.

    Integrated piecewise between ``dist.breakpoints()``, so jumps of a discrete F never sit inside
    a piece. Where the integrand falls below half its left value inside a piece (it concentrates
    near the left end as n grows, at a scale set by the lower tail of F), the piece is integrated
    in the log of the distance from its left end, x = lo + e^y, which turns both the n-dependent
    scale and a power-law tail x^k into smooth functions of y.
    """
    n = check_n(n)
    edges = dist.breakpoints()
    quad = functools.partial(integrate.quad, epsabs=0.0, epsrel=1e-11, limit=500)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        start = float(dist.survival(lo))
        if start <= 0.0:
            continue

        def ratio(x: float) -> float:
            return (float(dist.survival(x)) / start) ** n

        if ratio(hi) >= 0.5:
            value = quad(ratio, lo, hi)[0]
        else:
            half = optimize.brentq(lambda x: ratio(lo + x) - 0.5, 0.0, hi - lo, xtol=1e-300, rtol=1e-6)
            floor = QUAD_FLOOR * half
            value = floor + quad(
                lambda y: ratio(lo + math.exp(y)) * math.exp(y), math.log(floor), math.log(hi - lo),
                points=[math.log(half)] if half < hi - lo else None,
            )[0]
        total += start**n * value
    return total


def coi_closed_form(dist: PriceDistribution, n: int) -> float | None:
    """COI(n) in closed form, or ``None`` when the distribution has none."""
    return dist.closed_form_coi(check_n(n))


class MonteCarlo(NamedTuple):
    """A Monte Carlo estimate and its standard error (price units)."""

    value: float
    se: float


def coi_monte_carlo(dist: PriceDistribution, n: int, n_draws: int, rng: np.random.Generator) -> MonteCarlo:
    """COI(n) by simulation: ``n_draws`` markets, each with n agents drawing one quote and the
    lowest kept; the estimate is mean(lowest) - p_min with standard error std(lowest)/sqrt(n_draws)."""
    n = check_n(n)
    if isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer)) or n_draws < 2:
        raise ValueError(f"n_draws (Monte Carlo markets) must be an integer >= 2; got {n_draws!r}")
    rows = max(1, MC_CHUNK // n)
    lowest = np.concatenate(
        [dist.sample(rng, (min(rows, n_draws - start), n)).min(axis=1) for start in range(0, n_draws, rows)]
    )
    if lowest.min() == lowest.max():  # every market hit one quote: no spread (np.std may round to ~1e-17)
        return MonteCarlo(float(lowest[0] - dist.p_min), 0.0)
    return MonteCarlo(float(lowest.mean() - dist.p_min), float(lowest.std(ddof=1) / math.sqrt(n_draws)))


def coi_n(dist: PriceDistribution, n: int) -> float:
    """COI(n) = E[p_(1)] - p_min: the closed form where one exists, else quadrature."""
    closed = coi_closed_form(dist, n)
    return coi_quadrature(dist, n) if closed is None else closed


def coi_level(policy: PriceDistribution | npt.ArrayLike, p_min: float | None = None) -> float:
    """COI_level = E[P] - p_min of a price distribution, or of a sample of quoted prices.

    A sample needs ``p_min`` and must not go below it.
    """
    if isinstance(policy, PriceDistribution):
        if p_min is not None:
            raise ValueError("p_min comes from the distribution; pass p_min only with a price sample")
        return coi_n(policy, 1)
    if p_min is None:
        raise ValueError("p_min (minimum viable price) is required for a price sample")
    prices = np.asarray(policy, dtype=float)
    if prices.size == 0 or not np.isfinite(prices).all():
        raise ValueError("the price sample must be non-empty and finite")
    if prices.min() < p_min:
        raise ValueError(f"prices must not go below p_min ({p_min}); the sample's lowest is {prices.min()}")
    return float(prices.mean() - p_min)


def erosion_curve(dist: PriceDistribution, ns: Sequence[int] | npt.ArrayLike) -> pd.DataFrame:
    """COI(n) over a set of n, one row each: ``n``, ``coi`` (price units), ``retained`` =
    COI(n)/COI(1) (the share of the premium left) and ``erosion`` = 1 - COI(n)/COI(1)."""
    ns = [check_n(n) for n in np.asarray(ns).tolist()]
    base = coi_n(dist, 1)
    values = np.array([coi_n(dist, n) for n in ns])
    return pd.DataFrame({"n": ns, "coi": values, "retained": values / base, "erosion": 1.0 - values / base})


def fit_rate_slope(curve: pd.DataFrame, n_lo: int, n_hi: int) -> float:
    """Least-squares slope of log COI against log n over the rows of an :func:`erosion_curve`
    with n_lo <= n <= n_hi and COI > 0 (the empirical rate exponent).

    Rows whose COI is 0 are left out: an atom at p_min drives COI(n) below the smallest float
    once n is large. At least two rows must remain.
    """
    rows = curve[(curve["n"] >= n_lo) & (curve["n"] <= n_hi) & (curve["coi"] > 0)]
    if len(rows) < 2:
        raise ValueError(
            f"a log-log fit needs at least two rows with n in [{n_lo}, {n_hi}] and COI > 0; got {len(rows)}: "
            "widen the window or add points to the curve"
        )
    return float(np.polyfit(np.log(rows["n"].to_numpy(float)), np.log(rows["coi"].to_numpy(float)), 1)[0])


def predicted_slope(dist: PriceDistribution) -> float:
    """The large-n log-log slope theory predicts: -1/k for a power-law lower tail at p_min,
    ``-inf`` (geometric decay) for an atom at p_min, 0 when the support stops above p_min
    (COI tends to support_min - p_min > 0)."""
    if dist.support_min > dist.p_min:
        return 0.0
    tail = dist.lower_tail
    return -math.inf if tail is None else -1.0 / tail[0]


def asymptotic_coi(dist: PriceDistribution, n: int) -> float | None:
    """Gamma(1 + 1/k) (C n)^(-1/k), the large-n law of COI(n) for F(p_min + x) ~ C x^k
    (1/(n f(p_min)) when k = 1); ``None`` without such a tail."""
    n = check_n(n)
    tail = dist.lower_tail
    if tail is None or dist.support_min > dist.p_min:
        return None
    k, c = tail
    return math.gamma(1.0 + 1.0 / k) * (c * n) ** (-1.0 / k)


def collusive_coi(dist: PriceDistribution, n: int, k: int) -> float:
    """COI when n agents form coalitions that pool k quotes each: the effective number of
    independent quotes is n*k, so the value is COI(n*k).

    OUTSIDE THE THEOREM'S SCOPE: the theorem has each agent see one quote independently. Pooling
    is a variant shown for contrast, not a consequence of the theorem.
    """
    return coi_n(dist, check_n(n) * check_n(k, "k"))


def coi_leak(f: npt.ArrayLike, info_value: float = 1.0) -> FloatArray | float:
    """COI_leak = f * InfoValue, the per-quote penalty used in training (Model reference, sections 2 and 6).

    ``f``: agent probability of the quote's requester, in [0, 1] (any shape). ``info_value``: the
    constant query tax c_info >= 0; the leak is in its units (the pricing environment multiplies it
    by lambda_coi and the budget B = p_low * sum(q)). Unlike COI_level it does not depend on the
    prices quoted, only on who asks.
    """
    fa = np.asarray(f, dtype=float)
    if not (np.isfinite(fa).all() and (fa >= 0).all() and (fa <= 1).all()):
        raise ValueError("f (agent probability) must lie in [0, 1]")
    v = float(info_value)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"info_value (query tax c_info) must be finite and >= 0; got {info_value}")
    out = fa * v
    return float(out) if out.ndim == 0 else out


def observed_erosion(prices: pd.DataFrame, ns: Sequence[int] | npt.ArrayLike) -> pd.DataFrame:
    """COI(n) of each product's observed quotes, measured above its own lowest quote.

    ``prices``: a price-log table with columns ``store``, ``product`` and ``price`` (price units),
    such as :func:`phantom_lib.data.price_logs` returns. Each (store, product)'s quotes, each
    counted once, form its empirical quote distribution. The logs do not record the minimum viable
    price, so p_min is taken at the product's lowest observed quote: the level COI(1) = mean quote
    - lowest quote is then the part of the premium that search can erode (the premium above the
    true p_min, which lies at or below the lowest quote, is at least this), and COI(n) =
    E[lowest of n quotes] - lowest quote falls to zero geometrically, since the lowest quote is an
    atom at p_min (:meth:`DiscretePrices.closed_form_coi`).

    Returns one row per product and n, sorted by store, product and n: ``store``, ``product``,
    ``quotes`` and ``distinct`` (counts), ``lowest`` and ``mean`` (price units), ``level`` =
    COI(1) (price units), ``level_share`` = level / mean, ``n``, ``coi`` = COI(n) (price units) and
    ``retained`` = COI(n) / COI(1) (NaN for a product quoted at a single price: nothing to erode).
    """
    missing = [c for c in ("store", "product", "price") if c not in prices.columns]
    if missing:
        raise KeyError(f"observed_erosion() needs price-log columns {missing}; build the table with "
                       f"phantom_lib.data.price_logs()")
    ns = [check_n(n) for n in np.asarray(ns).tolist()]
    rows = []
    for (store, product), group in prices.groupby(["store", "product"], sort=True):
        quotes = group["price"].to_numpy(dtype=float)
        lowest, mean, distinct = float(quotes.min()), float(quotes.mean()), int(np.unique(quotes).size)
        dist = DiscretePrices.from_sample(quotes, lowest, float(quotes.max())) if distinct > 1 else None
        level = 0.0 if dist is None else coi_n(dist, 1)
        for n in ns:
            value = 0.0 if dist is None else coi_n(dist, n)
            rows.append({
                "store": store, "product": product, "quotes": quotes.size, "distinct": distinct, "lowest": lowest,
                "mean": mean, "level": level, "level_share": level / mean, "n": n, "coi": value,
                "retained": value / level if level > 0 else math.nan,
            })
    return pd.DataFrame(rows)


def agreement_table(
    dists: Mapping[str, PriceDistribution], ns: Sequence[int], n_draws: int, rng: np.random.Generator
) -> pd.DataFrame:
    """COI(n) three ways for every distribution and n, one row each.

    Columns: ``distribution``, ``n``, ``closed_form`` (NaN where none), ``quadrature``,
    ``monte_carlo``, ``mc_se``, ``err_closed`` = |closed - quadrature|, ``err_mc`` =
    |MC - quadrature|, ``z`` = (MC - quadrature)/se (NaN when se = 0: every simulated market hit
    the same lowest quote). All in price units except ``z``.
    """
    rows = []
    for name, dist in dists.items():
        for n in ns:
            closed = coi_closed_form(dist, n)
            quad = coi_quadrature(dist, n)
            mc = coi_monte_carlo(dist, n, n_draws, rng)
            closed = math.nan if closed is None else closed
            rows.append({
                "distribution": name, "n": int(n), "closed_form": closed, "quadrature": quad,
                "monte_carlo": mc.value, "mc_se": mc.se, "err_closed": abs(closed - quad),
                "err_mc": abs(mc.value - quad), "z": (mc.value - quad) / mc.se if mc.se > 0 else math.nan,
            })
    return pd.DataFrame(rows)
