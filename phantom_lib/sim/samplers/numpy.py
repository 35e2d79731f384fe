"""The numpy market backend: dense arrays and the factorised expansion.

Why it is fast (each point removes a cost the reference pays):

* factorised sampling: the expanded kernel kron(T, outer(c, c)) row-normalises to
  T[e, e'] * c[p'], so an event path over E states plus one product draw from c per state has
  the expanded chain's distribution; nothing of size (E*N)^2 is ever built;
* caches that survive the K candidates: the event CDFs are built once per sampler, the
  product CDFs once per market step;
* inverse CDF with pre-drawn uniforms, one ``(cdf[row] <= u).sum()`` per state instead of a
  label lookup and a weighted choice;
* event paths are walked ahead, in blocks of :data:`POOL_BLOCK` sessions per class: a path's
  events depend only on its class's kernel (prices and alpha change the products and the class
  split, not the event chain), so blocks are walked with a handful of numpy calls, each path is
  scored once (its KL gap and f, by :func:`phantom_lib.behaviour.kl.path_gaps`, whose cost follows the
  moves a path makes rather than S^2), and a market step takes its K*M sessions from the pools;
  the stop state (``checkout_start``) is re-wired to move to the absorbing ``session_end``, so
  the walk advances only the sessions still walking (the live set shrinks every position) and
  stops when none is left;
* a step is then a few whole-array calls: products for all its events by one inverse-CDF
  search per class, the proxy of all K candidates by one ``bincount``, f per candidate by
  another. The pool is emptied whenever a different generator asks, so a reseeded environment
  reproduces its episodes exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from phantom_lib.behaviour.kernels import demand_condition
from phantom_lib.behaviour.kl import agent_probability, path_gaps
from phantom_lib.sim.market import (
    F_UNSCORED,
    Behaviour,
    FloatArray,
    IntArray,
    MarketConfig,
    MarketSample,
    Sampler,
    absorbing_chains,
    agents_in_split,
    market_proxy,
    search_cdf,
)


def walk(classes: IntArray, uniforms: FloatArray, cdf: FloatArray, cdf0: FloatArray, end: int) -> IntArray:
    """Event paths of sessions of mixed classes, advanced together by inverse CDF.

    Args:
        classes: class of each session, shape (n,) (0 human, 1 agent).
        uniforms: pre-drawn U[0, 1) numbers, shape (L, n): one per session and position.
        cdf, cdf0: ``market.search_cdf`` of :func:`absorbing_chains`, shapes (2, S, S) and (2, S).
        end: index of the absorbing ``session_end``.

    Returns:
        paths, shape (L, n) (time-major): recorded states, ``-1`` once a session has ended.
    """
    length, n = uniforms.shape
    s = cdf.shape[1]
    table = cdf.reshape(2 * s, s)
    offset = classes * s
    paths = np.full((length, n), -1, dtype=np.int64)
    state = (cdf0[classes] <= uniforms[0][:, None]).sum(axis=1)
    paths[0] = state
    live = np.flatnonzero(state != end)  # only sessions still walking are advanced
    state = state[live]
    for t in range(1, length):
        if live.size == 0:
            break
        state = (table[offset[live] + state] <= uniforms[t, live][:, None]).sum(axis=1)
        paths[t, live] = state
        going = state != end
        live, state = live[going], state[going]
    paths[paths == end] = -1
    return paths


POOL_BLOCK = 4096
"""Sessions walked per class at a time. Event paths do not depend on prices or alpha (only the
products and the class split do), so each class's paths are walked in blocks, scored once, and
consumed M at a time: numpy's per-call cost is paid once per block instead of once per step."""


@dataclass
class _PathPool:
    """Walked, not yet used event paths of one class, session-major and flattened.

    Per session: ``lengths`` (recorded states), ``f`` (its agent probability, 0 where it cannot be
    scored) and ``scored`` (1.0 where it can, else 0.0), so a step averages f with two bincounts.
    """

    events: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    lengths: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    f: FloatArray = field(default_factory=lambda: np.empty(0))
    scored: FloatArray = field(default_factory=lambda: np.empty(0))

    def add(self, paths: IntArray, f: FloatArray) -> None:
        """Append walked paths (n, L) (-1 after the end) and their f (n,) (NaN: not scorable)."""
        recorded = paths >= 0
        scored = np.isfinite(f)
        self.events = np.concatenate([self.events, paths[recorded]])
        self.lengths = np.concatenate([self.lengths, recorded.sum(axis=1)])
        self.f = np.concatenate([self.f, np.where(scored, f, 0.0)])
        self.scored = np.concatenate([self.scored, scored.astype(float)])

    def take(self, n: int) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """Remove and return the first ``n`` sessions: ``(events, lengths, f, scored)``."""
        used = int(self.lengths[:n].sum())
        out = self.events[:used], self.lengths[:n], self.f[:n], self.scored[:n]
        self.events, self.lengths = self.events[used:], self.lengths[n:]
        self.f, self.scored = self.f[n:], self.scored[n:]
        return out


class NumpySampler(Sampler):
    """Market backend on dense numpy arrays (see the module docstring for the optimisations)."""

    name = "numpy"

    def __init__(self, behaviour: Behaviour, config: MarketConfig) -> None:
        super().__init__(behaviour, config)
        matrices, pi0 = absorbing_chains(behaviour)
        self._cdf, self._cdf0 = search_cdf(np, matrices), search_cdf(np, pi0)
        self._weights = behaviour.weights
        self._pools = (_PathPool(), _PathPool())
        self._pool_rng: np.random.Generator | None = None

    def _take(self, cls: int, n: int, rng: np.random.Generator) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
        """``n`` fresh sessions of class ``cls``: flat events, lengths (n,), f (n,) and scored (n,)
        (see :class:`_PathPool`). The pool is refilled from ``rng`` when short and emptied when a
        different generator asks (so a reseeded env never sees old draws)."""
        if rng is not self._pool_rng:
            self._pools, self._pool_rng = (_PathPool(), _PathPool()), rng
        pool = self._pools[cls]
        if pool.lengths.size < n:
            block = max(POOL_BLOCK, n)
            classes = np.full(block, cls, dtype=np.int64)
            uniforms = rng.random((self.config.max_len, block))
            # session-major and contiguous: masks and pair counting run ~15% faster than on the .T view
            paths = np.ascontiguousarray(walk(classes, uniforms, self._cdf, self._cdf0, self.behaviour.end).T)
            gap = path_gaps(paths, self.behaviour.human_centroid, self.behaviour.agent_centroid)
            pool.add(paths, agent_probability(gap, self.config.temperature))
        return pool.take(n)

    @staticmethod
    def _products(cdf: FloatArray, n_events: int, rng: np.random.Generator) -> IntArray:
        """One product per event, i.i.d. from a demand condition given as its ``search_cdf`` (N,)."""
        return cdf.searchsorted(rng.random(n_events), side="right")

    def sessions(
        self, classes: IntArray, condition: FloatArray, rng: np.random.Generator
    ) -> tuple[IntArray, IntArray]:
        """Sessions of the factorised expanded chain, one per entry of ``classes``.

        Args:
            classes: class of each session, shape (n,). condition: c per class, shape (2, N).
            rng: the source of every draw (paths from the pool, then products, class by class).

        Returns:
            ``(paths, products)``, both (L, n) time-major; -1 after a session ends.
        """
        length, n = self.config.max_len, classes.size
        cdf = search_cdf(np, condition)
        paths = np.full((n, length), -1, dtype=np.int64)
        products = np.full((n, length), -1, dtype=np.int64)
        for cls in (0, 1):
            where = np.flatnonzero(classes == cls)
            events, lengths, _, _ = self._take(cls, where.size, rng)
            session = np.repeat(where, lengths)
            position = np.arange(events.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            paths[session, position] = events
            products[session, position] = self._products(cdf[cls], events.size, rng)
        return paths.T, products.T

    def sample_at(self, demand: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator) -> MarketSample:
        cfg = self.config
        n_agents = agents_in_split(cfg.n_sessions, alphas)
        k, n = n_agents.size, cfg.n_products
        cdf = search_cdf(np, demand_condition(demand))
        keys, weights, per_session = [], [], []
        for cls, counts in ((0, cfg.n_sessions - n_agents), (1, n_agents)):
            events, lengths, f, scored = self._take(cls, int(counts.sum()), rng)
            candidate = np.repeat(np.arange(k), counts)
            keys.append(np.repeat(candidate, lengths) * n + self._products(cdf[cls], events.size, rng))
            weights.append(self._weights[events])
            per_session.append((candidate, f, scored, lengths))
        # q_hat (Model reference, section 1) per (candidate, product): omega-weighted event counts
        q_hat = np.bincount(np.concatenate(keys), weights=np.concatenate(weights), minlength=k * n)
        candidate, f, scored, lengths = (np.concatenate(columns) for columns in zip(*per_session))
        f_sum, n_scored, n_states = (np.bincount(candidate, weights=w, minlength=k) for w in (f, scored, lengths))
        return MarketSample(
            q=market_proxy(np, q_hat.reshape(k, n), cfg.proxy, cfg.n_sessions),
            f=np.divide(f_sum, n_scored, out=np.full(k, F_UNSCORED), where=n_scored > 0),
            demand=demand,
            n_states=n_states.astype(np.int64),
        )


SAMPLER = NumpySampler
