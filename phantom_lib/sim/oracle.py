"""The optimal fixed price of the market that pays for sales (Model reference, section 12).

No learning and no session is simulated: expected revenues come from the model. A visiting
session of class Y is absorbed at ``checkout_start`` with probability beta_Y and puts expected
proxy mass m_Y (both absorbing-chain sums, :func:`phantom_lib.behaviour.class_masses`); a class-Y
session visits with probability rho_Y(p) and every product it touches is drawn from c_Y(p). With
x_{Y,i} = v_{Y,i} + noise_{Y,i} ~ Normal(mu_Y, sd_Y^2 + noise_std^2), i.i.d. over products,
r_{Y,i} = max(0, x_{Y,i} - p_i) and R_{Y,i} = max(0, x_{Y,i}), price-responsive visits give
rho_Y c_{Y,i} = r_{Y,i} / sum_j R_{Y,j}, so per step (price units)

    E[S(p; alpha)]   = sum_Y n_Y b_Y beta_Y g_Y(p),      g_Y(p) = E[sum_i p_i r_{Y,i} / sum_j R_{Y,j}],
    E[p.q(p; alpha)] = sum_Y (n_Y m_Y / M) g_Y(p)        (the mass proxy, q = q_hat / M),

with n_A = floor(M alpha), n_H = M - n_A and b_Y = 1 except b_A = 0 when agents do not buy. With
fixed visits rho_Y = 1 and g_Y(p) = E[p . c_Y] (c_Y uniform when all r_Y are zero). Both revenues
weight the same per-class functions g_Y; they differ only in the class weights (beta_Y against
m_Y / M), so their maximisers differ only when agents value products differently from people.

g_Y is a Monte Carlo mean over ``n_draws`` valuation draws held fixed (common random numbers):
smooth in p, the same draws for every price, share and agent parameter compared, with its
standard error reported. Products are exchangeable, so the optimum over [p_low, p_high]^N is
searched along p 1 (a grid, then a bounded scalar search) and checked by an N-D search
(:func:`nd_optimum`). :func:`held_prices` lists the symmetric prices the learner's action space
(a common scale on the current prices, clipped) can reach and hold.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize

from phantom_lib._arrays import FloatArray
from phantom_lib.behaviour.mass import class_masses
from phantom_lib.behaviour.model import Behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.market import MarketConfig, agents_in_split

OBJECTIVES = ("sales", "sales_profit", "proxy")
"""What an optimum maximises: expected sales revenue E[S] (price units per step), sales profit
E[S] - p_low E[units] (what the sales-rewarded platform's profit term measures), or expected proxy
revenue E[p.q] (mass proxy; what the thesis's platform is paid)."""

N_DRAWS = 20_000
"""Valuation draws of the common-random-number Monte Carlo (per class)."""

GRID_STEP = 0.5
"""Spacing (price units) of the symmetric grid the scalar search starts from."""

CHUNK = 16
"""Price vectors evaluated per vectorised block (memory: CHUNK x 2 x D x N floats)."""

HOLD_DEPTH = 8
"""Actions after reaching a price bound over which :func:`held_prices` enumerates the lattice."""


@dataclass(frozen=True)
class SalesModel:
    """Expected revenues of one market at fixed prices (see the module docstring).

    Build with :meth:`of`. Attributes:
        config: the environment (price bounds, action scales, market).
        beta: beta_Y, probability that a class-Y session ends at checkout, shape (2,).
        mass: m_Y, expected omega-weighted mass of a class-Y session, shape (2,) (omega units).
        x: valuation plus noise draws, shape (2, D, N) (price units), from standard normals ``z``.
        z: the standard normal draws (2, D, N) kept for :meth:`with_market`.
    """

    config: EnvConfig
    beta: FloatArray
    mass: FloatArray
    z: FloatArray
    x: FloatArray

    @classmethod
    def of(cls, behaviour: Behaviour, config: EnvConfig, n_draws: int = N_DRAWS, seed: int = 0) -> SalesModel:
        """The model of ``config``'s market with ``behaviour``'s chains; ``n_draws`` Monte Carlo
        draws from ``seed`` (the same seed gives the same common random numbers)."""
        market = config.market
        if market.proxy != "mass":
            raise ValueError(f"MarketConfig.proxy = {market.proxy!r}: the oracle's proxy revenue is computed for "
                             "proxy = 'mass' (q = q_hat / M); set proxy='mass'")
        masses = class_masses(behaviour, market.max_len)
        z = np.random.default_rng(seed).standard_normal((2, int(n_draws), market.n_products))
        return cls(config, masses["checkout"].to_numpy(float), masses["mass"].to_numpy(float), z, _values(market, z))

    def with_market(self, **fields: object) -> SalesModel:
        """The same model (same draws) with MarketConfig fields changed (agent_mu, agent_sd, agents_buy ...)."""
        config = self.config.replace(**fields)
        return dataclasses.replace(self, config=config, x=_values(config.market, self.z))

    def per_class(self, prices: npt.ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per-class means over the draws at price vectors ``prices`` (..., N), each shape (P, 2)
        with P the number of vectors: g_Y(p) (price units), its Monte Carlo SE, and E[rho_Y(p)]."""
        p = np.asarray(prices, dtype=float)
        if p.shape[-1:] != (self.config.market.n_products,) or not np.all(np.isfinite(p)):
            raise ValueError(
                f"prices must be finite and end in N = {self.config.market.n_products} products; got shape {p.shape}"
            )
        flat = p.reshape(-1, p.shape[-1])
        parts = []
        for i in range(0, flat.shape[0], CHUNK):
            value, rho = _session_values(self.x, flat[i : i + CHUNK], self.config.market.visits)  # (chunk, 2, D) each
            parts.append(
                (value.mean(axis=-1), value.std(axis=-1, ddof=1) / np.sqrt(value.shape[-1]), rho.mean(axis=-1))
            )
        mean, se, rho = (np.concatenate(column) for column in zip(*parts))
        return mean, se, rho

    def weights(self, alpha: float) -> dict[str, FloatArray]:
        """Class weights at agent share ``alpha`` (2,): ``sales`` n_Y b_Y beta_Y (units per visiting
        unit), ``proxy`` n_Y m_Y / M, ``sessions`` n_Y and ``buyers`` n_Y b_Y."""
        market = self.config.market
        n_agents = int(agents_in_split(market.n_sessions, [alpha])[0])
        sessions = np.array([market.n_sessions - n_agents, n_agents], dtype=float)
        buyers = sessions * market.buyers
        return {
            "sales": buyers * self.beta,
            "proxy": sessions * self.mass / market.n_sessions,
            "sessions": sessions,
            "buyers": buyers,
        }

    def expected(self, prices: npt.ArrayLike, alpha: float) -> pd.DataFrame:
        """Expected revenues per step at each price vector of ``prices`` (..., N) (flattened to rows).

        Returns:
            a frame with one row per price vector: ``sales`` (E[S], price units per step),
            ``sales_se`` (its Monte Carlo SE), ``units`` (E[units sold] per step), ``sales_profit``
            (E[S] - p_low E[units]), ``proxy`` (E[p.q] under the mass proxy, price x omega units)
            and ``proxy_se``.
        """
        g, se, rho = self.per_class(prices)
        w = self.weights(alpha)
        sales = g @ w["sales"]
        units = rho @ w["sales"]
        return pd.DataFrame(
            {
                "sales": sales,
                "sales_se": np.sqrt((se**2) @ w["sales"] ** 2),
                "units": units,
                "sales_profit": sales - self.config.p_low * units,
                "proxy": g @ w["proxy"],
                "proxy_se": np.sqrt((se**2) @ w["proxy"] ** 2),
            }
        )

    def objective(self, prices: npt.ArrayLike, alpha: float, objective: str = "sales") -> FloatArray:
        """One column of :meth:`expected` (one of :data:`OBJECTIVES`), shape (rows,)."""
        _check_objective(objective)
        return self.expected(prices, alpha)[objective].to_numpy()

    @functools.cached_property
    def _sorted_draws(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per class, every (draw, product) value x sorted, with suffix sums of w and w x, where
        w = 1 / (D sum_j R_j) of its draw (0 where that sum is 0): shapes (2, D N), (2, D N + 1) x 2."""
        scale = np.maximum(0.0, self.x).sum(axis=-1, keepdims=True)  # (2, D, 1)
        w = np.divide(1.0, scale * self.x.shape[1], out=np.zeros_like(scale), where=scale > 0)
        w = np.broadcast_to(w, self.x.shape).reshape(2, -1)
        x = self.x.reshape(2, -1)
        order = np.argsort(x, axis=1)
        xs, ws = np.take_along_axis(x, order, 1), np.take_along_axis(w, order, 1)
        return xs, _suffix_sums(ws), _suffix_sums(ws * xs)

    def symmetric_objective(self, prices: npt.ArrayLike, alpha: float, objective: str = "sales") -> FloatArray:
        """:meth:`objective` at symmetric price vectors p 1 for each p of ``prices`` (P,), in
        O(log(D N)) per price on the same draws: with prices equal, rho_Y = E[sum_i (x_i - p)^+ / sum_j R_j]
        is a weighted tail sum over the sorted draws, and g_Y = p rho_Y (price-responsive visits),
        or g_Y = p, rho_Y = 1 (fixed visits: p . c_Y = p whatever c_Y)."""
        _check_objective(objective)
        p = np.atleast_1d(np.asarray(prices, dtype=float))
        if self.config.market.visits == "price_responsive":
            xs, tail_w, tail_wx = self._sorted_draws
            rho = np.stack(
                [
                    tail_wx[y, k] - p * tail_w[y, k]
                    for y, k in enumerate(np.searchsorted(xs[y], p, side="right") for y in range(2))
                ],
                axis=-1,
            )  # (P, 2)
        else:
            rho = np.ones((p.size, 2))
        w = self.weights(alpha)
        g = p[:, None] * rho
        if objective == "proxy":
            return g @ w["proxy"]
        sales = g @ w["sales"]
        return sales - self.config.p_low * (rho @ w["sales"]) if objective == "sales_profit" else sales


def _suffix_sums(a: FloatArray) -> FloatArray:
    """Row-wise sums of a[:, k:] for k = 0 .. n, shape (rows, n + 1) (the last column 0)."""
    return np.concatenate([np.cumsum(a[:, ::-1], axis=1)[:, ::-1], np.zeros((a.shape[0], 1))], axis=1)


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}; got {objective!r}")


def _values(market: MarketConfig, z: FloatArray) -> FloatArray:
    """x_Y = mu_Y + sqrt(sd_Y^2 + noise_std^2) z_Y, shape (2, D, N): valuation plus noise."""
    spread = np.sqrt(market.sd**2 + market.noise_std**2)
    return market.mu[:, None, None] + spread[:, None, None] * z


def _session_values(x: FloatArray, prices: FloatArray, visits: str) -> tuple[FloatArray, FloatArray]:
    """Per draw, rho_Y p.c_Y and rho_Y at price vectors (P, N): two arrays of shape (P, 2, D).

    Price-responsive: rho_Y p.c_Y = sum_i p_i r_i / sum_j R_j (0 where sum_j R_j = 0); fixed:
    rho_Y = 1 and p.c_Y = sum_i p_i r_i / sum_j r_j (the plain mean price where all r are zero).
    """
    raw = np.maximum(0.0, x[None] - prices[:, None, None, :])  # (P, 2, D, N)
    paid = np.einsum("pydn,pn->pyd", raw, prices)
    total = raw.sum(axis=-1)
    if visits == "price_responsive":
        scale = np.broadcast_to(np.maximum(0.0, x).sum(axis=-1), total.shape)
        value = np.divide(paid, scale, out=np.zeros_like(paid), where=scale > 0)
        return value, np.divide(total, scale, out=np.zeros_like(total), where=scale > 0)
    fallback = np.broadcast_to(prices.mean(axis=-1)[:, None, None], paid.shape)
    return np.divide(paid, total, out=fallback.copy(), where=total > 0), np.ones_like(paid)


@dataclass(frozen=True)
class Optimum:
    """A maximiser of one objective at one agent share.

    Attributes:
        alpha: agent share. objective: one of :data:`OBJECTIVES`.
        prices: the maximising price vector, shape (N,) (price units).
        value: the objective there (its units: see :meth:`SalesModel.expected`).
    """

    alpha: float
    objective: str
    prices: FloatArray
    value: float

    @property
    def price(self) -> float:
        """The mean of :attr:`prices` (the common price of a symmetric optimum)."""
        return float(np.mean(self.prices))


def symmetric_optimum(
    model: SalesModel, alpha: float, objective: str = "sales", candidates: FloatArray | None = None
) -> Optimum:
    """argmax over p 1, p in [p_low, p_high] (or over ``candidates``, symmetric prices (P,)).

    Without candidates: a grid of step :data:`GRID_STEP`, then a bounded scalar search in the two
    grid cells around the best point (the objective is a smooth Monte Carlo mean in p). With
    candidates: those within one grid step of the grid points that can still win.
    Uses :meth:`SalesModel.symmetric_objective` (the same draws as :meth:`SalesModel.expected`).
    """
    n = model.config.market.n_products

    def value(p: npt.ArrayLike) -> FloatArray:
        return model.symmetric_objective(p, alpha, objective)

    lo, hi = model.config.p_low, model.config.p_high
    grid = np.linspace(lo, hi, round((hi - lo) / GRID_STEP) + 1)
    values = value(grid)
    best = int(np.argmax(values))
    if candidates is not None:
        # a candidate lies within one grid step of a grid point g and differs from value(g) by at
        # most the largest change over one grid step, so only those near the top can win
        slack = float(np.max(np.abs(np.diff(values)))) if grid.size > 1 else 0.0
        tops = grid[values >= values[best] - slack]
        pool = np.asarray(candidates, dtype=float)
        near = pool[np.min(np.abs(pool[:, None] - tops[None, :]), axis=1) <= GRID_STEP]
        near = np.unique(np.concatenate([near, pool[[0, -1]]]))
        scores = value(near)
        pick = int(np.argmax(scores))
        return Optimum(float(alpha), objective, np.full(n, near[pick]), float(scores[pick]))
    left, right = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    found = optimize.minimize_scalar(
        lambda p: -value(p)[0], bounds=(left, right), method="bounded", options={"xatol": 1e-4}
    )
    price, top = (
        (float(found.x), -float(found.fun)) if -found.fun >= values[best] else (float(grid[best]), float(values[best]))
    )
    return Optimum(float(alpha), objective, np.full(n, price), top)


def nd_optimum(model: SalesModel, alpha: float, objective: str = "sales", starts: int = 4, seed: int = 0) -> Optimum:
    """argmax over all of [p_low, p_high]^N by L-BFGS-B from the symmetric optimum and ``starts``
    uniform random starts (a check of exchangeability on small N; cost grows with N)."""
    lo, hi, n = model.config.p_low, model.config.p_high, model.config.market.n_products
    first = symmetric_optimum(model, alpha, objective).prices
    points = [first, *np.random.default_rng(seed).uniform(lo, hi, (starts, n))]
    best: tuple[float, FloatArray] = (-np.inf, first)
    for start in points:
        found = optimize.minimize(
            lambda p: -model.objective(p, alpha, objective)[0], start, method="L-BFGS-B", bounds=[(lo, hi)] * n
        )
        if -found.fun > best[0]:
            best = (-float(found.fun), np.asarray(found.x, float))
    return Optimum(float(alpha), objective, best[1], best[0])


def held_prices(config: EnvConfig, depth: int = HOLD_DEPTH) -> FloatArray:
    """Symmetric prices p 1 the learner's action space can reach and then hold, sorted (price units).

    Actions scale every price by s in ``config.scales`` and clip to [p_low, p_high], so price
    ratios change only through clipping: any start reaches p_high 1 (scale up until every
    price is clipped) and then, from the bound, clip(p_high * s_1 * ... * s_d) after d more
    actions; the same from p_low 1. Such a price is held if some action keeps it: s = 1 when the
    action set contains it (odd ``action_levels``), else only the bounds (s > 1 at p_high, s < 1
    at p_low). This enumerates d <= ``depth`` actions (cycles between prices are not holds).
    """
    scales = config.scales
    lo, hi = config.p_low, config.p_high
    if not np.any(np.isclose(scales, 1.0, rtol=0, atol=1e-12)):
        return np.array([lo, hi])
    reached = {round(lo, 9), round(hi, 9)}
    frontier = set(reached)
    for _ in range(int(depth)):
        frontier = {round(float(np.clip(v * s, lo, hi)), 9) for v in frontier for s in scales} - reached
        reached |= frontier
    return np.array(sorted(reached))


@dataclass(frozen=True)
class OracleResult:
    """The oracle at one agent share (Model reference, section 12). Prices in price units, E[S]
    in price units per step (M sessions).

    Attributes:
        alpha: agent share.
        best: p*, the E[S]-maximising price vector (symmetric search).
        held: p*_A, the best price the action space can hold (:func:`held_prices`).
        proxy: p_q*, the maximiser of expected proxy revenue.
        sales_at_proxy: E[S] at p_q*.
        gap: E[S(p*)] - E[S(p_q*)], what optimising the proxy costs in sales revenue.
        gap_share: gap / E[S(p*)] (0 when E[S(p*)] = 0).
    """

    alpha: float
    best: Optimum
    held: Optimum
    proxy: Optimum
    sales_at_proxy: float

    @property
    def gap(self) -> float:
        return self.best.value - self.sales_at_proxy

    @property
    def gap_share(self) -> float:
        return self.gap / self.best.value if self.best.value > 0 else 0.0


def oracle(model: SalesModel, alpha: float, held: FloatArray | None = None) -> OracleResult:
    """p*, p*_A and p_q* at one share, with E[S] at p_q* (``held``: :func:`held_prices`, computed if None)."""
    lattice = held_prices(model.config) if held is None else held
    best, proxy, at_proxy = _optima(model, alpha)
    return OracleResult(float(alpha), best, symmetric_optimum(model, alpha, "sales", lattice), proxy, at_proxy)


def _optima(model: SalesModel, alpha: float) -> tuple[Optimum, Optimum, float]:
    """p* and p_q* along p 1, and E[S(p_q*)]; p* is the better of the two for sales (the scalar
    searches stop within 1e-4 price units, so at equal optima either may come out ahead)."""
    best = symmetric_optimum(model, alpha, "sales")
    proxy = symmetric_optimum(model, alpha, "proxy")
    at_proxy = float(model.symmetric_objective(proxy.price, alpha, "sales")[0])
    if at_proxy > best.value:
        best = Optimum(best.alpha, "sales", proxy.prices, at_proxy)
    return best, proxy, at_proxy


def oracle_frame(model: SalesModel, alphas: Iterable[float]) -> pd.DataFrame:
    """:func:`oracle` at each share, one row each: ``p_star``, ``sales_star`` (E[S(p*)]),
    ``p_star_held``, ``sales_held``, ``p_proxy``, ``sales_at_proxy``, ``proxy_at_proxy``
    (E[p.q(p_q*)]), ``gap`` and ``gap_share`` (prices in price units, E[S] in price units per step)."""
    lattice = held_prices(model.config)
    rows = []
    for alpha in alphas:
        o = oracle(model, alpha, lattice)
        rows.append(
            {
                "alpha": o.alpha,
                "p_star": o.best.price,
                "sales_star": o.best.value,
                "p_star_held": o.held.price,
                "sales_held": o.held.value,
                "p_proxy": o.proxy.price,
                "sales_at_proxy": o.sales_at_proxy,
                "proxy_at_proxy": o.proxy.value,
                "gap": o.gap,
                "gap_share": o.gap_share,
            }
        )
    return pd.DataFrame(rows)


def contamination_map(
    model: SalesModel,
    alphas: Sequence[float],
    agent_mus: Sequence[float],
    agent_sds: Sequence[float],
    agents_buy: Sequence[bool] = (True, False),
) -> pd.DataFrame:
    """Sales revenue lost by pricing at the proxy optimum instead of the sales optimum, over a grid.

    Every cell uses the model's common random numbers with the agents' valuation mean and sd
    (price units) and ``agents_buy`` replaced. Returns one row per (agents_buy, agent_mu, agent_sd,
    alpha): ``p_star``, ``p_proxy`` (price units), ``sales_star``, ``sales_at_proxy``, ``gap``
    (price units per step) and ``gap_share`` (of E[S(p*)]).
    """
    rows = []
    for buy, mu, sd in product(agents_buy, agent_mus, agent_sds):
        cell = model.with_market(agent_mu=float(mu), agent_sd=float(sd), agents_buy=bool(buy))
        for alpha in alphas:
            best, proxy, at_proxy = _optima(cell, alpha)
            gap = best.value - at_proxy
            rows.append(
                {
                    "agents_buy": bool(buy),
                    "agent_mu": float(mu),
                    "agent_sd": float(sd),
                    "alpha": float(alpha),
                    "p_star": best.price,
                    "p_proxy": proxy.price,
                    "sales_star": best.value,
                    "sales_at_proxy": at_proxy,
                    "gap": gap,
                    "gap_share": gap / best.value if best.value > 0 else 0.0,
                }
            )
    return pd.DataFrame(rows)
