"""The jax market backend: the numpy backend's arrays, jit-compiled.

The event walk is a ``lax.scan`` over positions of an inverse-CDF step
``(cdf[row] <= u).sum()`` on pre-drawn uniforms (about 30x faster than
``jax.random.categorical`` here); all K candidates x M sessions advance together as one
(K, M) batch, both classes in one stacked CDF table. Each position draws one uniform for the
whole expanded state (event, product): in the factorised form the expanded row's CDF runs
through the events in order and, within event e', through the products with weight c, so the
event is the first e' with CDF(e') > u and the product is found from the residual
(u - CDF(e' - 1)) / T[e, e'], itself uniform on [0, 1) and independent of the event. This is
inverse-CDF sampling of the expanded chain with one 24-bit uniform per state, at the random
number cost of the bare event chain.

The agent probability is this module's own jax implementation of the formulas of
:mod:`phantom_lib.behaviour.distinguish` (pair counts by scatter-add, KL over shared source events,
sigmoid of the gap); a test holds it equal to the numpy one. Everything is shape-static, so
:func:`market_sessions` jit-compiles and vmaps over environments.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phantom_lib.behaviour.kernels import demand_condition
from phantom_lib.behaviour.kl import EPS
from phantom_lib.sim.market import (
    F_UNSCORED,
    Behaviour,
    FloatArray,
    MarketConfig,
    MarketSample,
    Sampler,
    absorbing_chains,
    agents_in_split,
    market_proxy,
    search_cdf,
    true_demand,
)

KEY_IMPL = "rbg"
"""PRNG of the keys this package creates: XLA's RngBitGenerator compiles in a fraction of
threefry's time on CPU and draws faster; a caller may pass keys of any implementation."""


SMALL_CATALOGUE = 32
"""Up to this many products the product search compares against every CDF entry; above it, binary search."""


class MarketArrays(NamedTuple):
    """Everything a market draw needs, as a pytree of jax arrays (S states, class order H, A).

    Attributes:
        cdf: stacked transition CDFs, shape (2S, S), row ``class * S + state``; stop states
            move to ``session_end``; last column +inf (``market.search_cdf``).
        cdf0: initial CDFs, shape (2, S).
        prob, prob0: the probabilities behind ``cdf`` and ``cdf0``, shapes (2S, S) and (2, S).
        weights: omega per state, shape (S,).
        log_centroid: log(q + EPS) of each class centroid kernel, shape (2, S, S).
        observed: centroid source events with at least one pair, shape (2, S) (bool).
        mu, sd: valuation mean and sd per class, shape (2,). noise_std, temperature: scalars.
    """

    cdf: Any
    cdf0: Any
    prob: Any
    prob0: Any
    weights: Any
    log_centroid: Any
    observed: Any
    mu: Any
    sd: Any
    noise_std: Any
    temperature: Any


def market_arrays(behaviour: Behaviour, config: MarketConfig) -> MarketArrays:
    """Build the (float32) jax arrays of a behaviour and market configuration once."""
    matrices, pi0 = absorbing_chains(behaviour)
    s = behaviour.n_states
    centroids = behaviour.centroids
    totals = centroids.sum(axis=2, keepdims=True)
    probs = np.divide(centroids, totals, out=np.zeros_like(centroids), where=totals > 0)

    def f32(array: Any) -> Any:
        return jnp.asarray(array, dtype=jnp.float32)

    return MarketArrays(
        cdf=f32(search_cdf(np, matrices).reshape(2 * s, s)),
        cdf0=f32(search_cdf(np, pi0)),
        prob=f32(matrices.reshape(2 * s, s)),
        prob0=f32(pi0),
        weights=f32(behaviour.weights),
        log_centroid=f32(np.log(probs + EPS)),
        observed=jnp.asarray(totals[..., 0] > 0),
        mu=f32(config.mu),
        sd=f32(config.sd),
        noise_std=f32(config.noise_std),
        temperature=f32(config.temperature),
    )


def _inverse_cdf(cdf: Any, prob: Any, u: Any) -> tuple[Any, Any]:
    """Index drawn by u from rows ``cdf`` (..., S) and the residual uniform left over.

    Returns ``(index, residual)``: index = #{cdf <= u}; residual = (u - CDF(index - 1)) /
    P(index), uniform on [0, 1) and independent of the index.
    """
    index = (cdf <= u[..., None]).sum(-1)
    lower = jnp.where(index > 0, jnp.take_along_axis(cdf, jnp.maximum(index - 1, 0)[..., None], -1)[..., 0], 0.0)
    p = jnp.take_along_axis(prob, index[..., None], -1)[..., 0]
    residual = jnp.where(p > 0, (u - lower) / jnp.where(p > 0, p, 1.0), 0.0)
    return index, jnp.clip(residual, 0.0, 1.0 - jnp.finfo(residual.dtype).epsneg)


def walk(classes: Any, uniforms: Any, arrays: MarketArrays, end: int) -> tuple[Any, Any]:
    """Event paths of a batch of sessions by inverse CDF in ``lax.scan``.

    Args:
        classes: class of each session, int shape B (any batch shape, e.g. (K, M)).
        uniforms: U[0, 1) draws, shape (L,) + B, one per position.
        arrays: the stacked CDFs and probabilities (:class:`MarketArrays`).
        end: index of ``session_end``.

    Returns:
        ``(paths, residuals)``, shape (L,) + B (time-major): the recorded states (``-1`` once a
        session has ended) and the residual uniform of each position (draws the product).
    """
    s = arrays.cdf.shape[1]
    offset = classes * s
    first = _inverse_cdf(arrays.cdf0[classes], arrays.prob0[classes], uniforms[0])

    def advance(state: Any, u: Any) -> tuple[Any, Any]:
        row = offset + state
        nxt, residual = _inverse_cdf(arrays.cdf[row], arrays.prob[row], u)
        return nxt, (nxt, residual)

    _, (rest, residuals) = jax.lax.scan(advance, first[0], uniforms[1:])
    paths = jnp.concatenate([first[0][None], rest], axis=0)
    return jnp.where(paths == end, -1, paths), jnp.concatenate([first[1][None], residuals], axis=0)


def pair_counts(paths: Any, n_states: int) -> Any:
    """Event-to-event pair counts per session by scatter-add, shape B + (S, S) for paths (L,) + B."""
    src, dst = paths[:-1], paths[1:]
    batch = paths.shape[1:]
    n_sessions = int(np.prod(batch))
    session = jnp.broadcast_to(jnp.arange(n_sessions).reshape(batch), src.shape)
    flat_size = n_sessions * n_states * n_states
    flat = jnp.where((src >= 0) & (dst >= 0), (session * n_states + src) * n_states + dst, flat_size)
    counts = jnp.zeros(flat_size + 1).at[flat].add(1.0)[:-1]
    return counts.reshape(batch + (n_states, n_states))


def agent_probability(paths: Any, arrays: MarketArrays) -> Any:
    """Per-candidate step agent probability (the jax twin of ``market.step_agent_probability``).

    Args:
        paths: event paths, shape (L, K, M), ``-1`` after a session ends.

    Returns:
        f, shape (K,): mean sigmoid(gap / T) over scorable sessions, :data:`F_UNSCORED` if none.
    """
    counts = pair_counts(paths, arrays.cdf.shape[1])[..., None, :, :]  # (K, M, 1, S, S) against (2, S, S)
    total = counts.sum(-1)
    p = counts / jnp.where(total > 0, total, 1.0)[..., None]
    kl = jnp.where(p > 0, (p + EPS) * (jnp.log(p + EPS) - arrays.log_centroid), 0.0).sum(-1)  # (K, M, 2, S)
    shared = (total > 0) & arrays.observed
    n_shared = shared.sum(-1)
    delta = jnp.where(shared, kl, 0.0).sum(-1) / jnp.maximum(n_shared, 1)  # (K, M, 2): Delta_H, Delta_A
    scored = (n_shared > 0).all(-1)
    f = 0.5 * (1.0 + jnp.tanh(0.5 * (delta[..., 0] - delta[..., 1]) / arrays.temperature))
    n_scored = scored.sum(-1)
    mean = jnp.where(scored, f, 0.0).sum(-1) / jnp.maximum(n_scored, 1)
    return jnp.where(n_scored > 0, mean, F_UNSCORED)


def sessions(key: Any, classes: Any, condition: Any, arrays: MarketArrays, max_len: int, end: int) -> tuple[Any, Any]:
    """Sessions of the factorised expanded chain, one uniform per recorded state.

    Args:
        key: PRNG key. classes: class of each session, int shape B. condition: c per class, (2, N).

    Returns:
        ``(paths, products)``, both (L,) + B time-major; ``paths`` is -1 after a session ends.
    """
    uniforms = jax.random.uniform(key, (max_len,) + classes.shape)
    paths, residuals = walk(classes, uniforms, arrays, end)
    product_cdf = search_cdf(jnp, condition)
    method = "compare_all" if condition.shape[1] <= SMALL_CATALOGUE else "scan_unrolled"
    products = jnp.where(
        classes == 1,
        jnp.searchsorted(product_cdf[1], residuals, side="right", method=method),
        jnp.searchsorted(product_cdf[0], residuals, side="right", method=method),
    )
    return paths, products


def n_agents_of(alphas: Any, n_sessions: int) -> Any:
    """n_A = floor(M * alpha) per share in float32 (traced shares allowed), int32 like ``alphas``.

    The guard M * 2^-20 absorbs float32 rounding of M * alpha (at most about M * 2^-23), so the
    split equals :func:`phantom_lib.sim.market.agents_in_split` on the same shares.
    """
    return jnp.floor(n_sessions * alphas + n_sessions * SPLIT_GUARD_F32).astype(jnp.int32)


SPLIT_GUARD_F32 = 2.0**-20
"""Relative guard of :func:`n_agents_of` against float32 rounding of M * alpha."""


def draw_demand(key: Any, prices: Any, arrays: MarketArrays) -> Any:
    """True demand per class at prices p (N,), shape (2, N), rows summing to 100 (or zero)."""
    z = jax.random.normal(key, (2, 2, prices.shape[0]))
    return true_demand(jnp, z, prices, arrays.mu, arrays.sd, arrays.noise_std)


def market_sessions(
    key: Any, demand: Any, n_agents: Any, arrays: MarketArrays, n_sessions: int, max_len: int, end: int, proxy: str
) -> tuple[Any, Any, Any]:
    """M sessions for each of K candidates at true demand ``demand`` (2, N) (jit- and vmap-friendly).

    Args:
        key: PRNG key. n_agents: n_A per candidate, int shape (K,). proxy: one of ``PROXIES``.

    Returns:
        ``(q (K, N), f (K,), sampled states (K,))``.
    """
    n = demand.shape[1]
    k = n_agents.shape[0]
    classes = (jnp.arange(n_sessions)[None, :] < n_agents[:, None]).astype(jnp.int32)
    paths, products = sessions(key, classes, demand_condition(demand, jnp), arrays, max_len, end)
    recorded = paths >= 0
    weight = jnp.where(recorded, arrays.weights[jnp.maximum(paths, 0)], 0.0)
    candidate = jnp.broadcast_to(jnp.arange(k)[None, :, None], paths.shape)
    q_hat = jnp.zeros((k, n)).at[candidate, products].add(weight)
    return market_proxy(jnp, q_hat, proxy, n_sessions), agent_probability(paths, arrays), recorded.sum(axis=(0, 2))


class JaxSampler(Sampler):
    """Market backend in jax (a jit-compiled :func:`market_sessions` per number of candidates)."""

    name = "jax"

    def __init__(self, behaviour: Behaviour, config: MarketConfig) -> None:
        super().__init__(behaviour, config)
        self.arrays = market_arrays(behaviour, config)
        self._draw = jax.jit(
            partial(market_sessions, n_sessions=config.n_sessions, max_len=config.max_len, end=behaviour.end, proxy=config.proxy)
        )

    def sample_at(self, demand: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator) -> MarketSample:
        n_agents = agents_in_split(self.config.n_sessions, alphas).astype(np.int32)
        key = jax.random.key(int(rng.integers(0, 2**32 - 1)), impl=KEY_IMPL)
        q, f, n_states = jax.device_get(
            self._draw(key, jnp.asarray(demand, dtype=jnp.float32), jnp.asarray(n_agents), self.arrays)
        )
        return MarketSample(q=np.asarray(q, float), f=np.asarray(f, float), demand=np.asarray(demand, float), n_states=np.asarray(n_states))


SAMPLER = JaxSampler
