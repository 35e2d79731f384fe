"""The numpy market backend: dense arrays and the factorised expansion.

Why it is fast (each point removes a cost the reference pays):

* factorised sampling: the expanded kernel kron(T, outer(c, c)) row-normalises to
  T[e, e'] * c[p'], so an event path over E states plus one product draw from c per state has
  the expanded chain's distribution; nothing of size (E*N)^2 is ever built;
* caches that survive the K candidates: the event CDFs are built once per sampler, the
  product CDFs once per market step;
* inverse CDF with pre-drawn uniforms, one ``(cdf[row] <= u).sum()`` per state instead of a
  label lookup and a weighted choice;
* all K*M sessions of a step, both classes, advance together: the two class kernels are
  stacked into one (2S, S) CDF table and a session's row is ``class * S + state``; the stop
  state (``checkout_start``) is re-wired to move to the absorbing ``session_end``, so the loop
  needs no per-session bookkeeping, and it exits as soon as every session has ended.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from phantom_lib.events import demand_proxy
from phantom_lib.market import (
    Behaviour,
    FloatArray,
    IntArray,
    MarketConfig,
    MarketSample,
    Sampler,
    agents_in_split,
    demand_condition,
    normalised_proxy,
    search_cdf,
    session_classes,
    step_agent_probability,
    true_demand,
)

END_CHECK_EVERY = 4
"""The walk tests whether every session has ended once every this many states."""


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
    paths = np.full((length, n), end, dtype=np.int64)
    state = (cdf0[classes] <= uniforms[0][:, None]).sum(axis=1)
    paths[0] = state
    for t in range(1, length):
        if t % END_CHECK_EVERY == 0 and (state == end).all():
            break
        state = (table[offset + state] <= uniforms[t][:, None]).sum(axis=1)
        paths[t] = state
    paths[paths == end] = -1
    return paths


class NumpySampler(Sampler):
    """Market backend on dense numpy arrays (see the module docstring for the optimisations)."""

    name = "numpy"

    def __init__(self, behaviour: Behaviour, config: MarketConfig) -> None:
        super().__init__(behaviour, config)
        matrices, pi0 = absorbing_chains(behaviour)
        self._cdf, self._cdf0 = search_cdf(np, matrices), search_cdf(np, pi0)
        self._weights = behaviour.weights

    def sessions(
        self, classes: IntArray, condition: FloatArray, rng: np.random.Generator
    ) -> tuple[IntArray, IntArray]:
        """Sessions of the factorised expanded chain, all advanced together.

        Args:
            classes: class of each session, shape (n,). condition: c per class, shape (2, N).
            rng: draws the uniforms, shape (2, L, n): events, then products.

        Returns:
            ``(paths, products)``, both (L, n) time-major; ``paths`` is -1 after a session ends
            (``products`` there is meaningless).
        """
        uniforms = rng.random((2, self.config.max_len, classes.size))
        paths = walk(classes, uniforms[0], self._cdf, self._cdf0, self.behaviour.end)
        product_cdf = search_cdf(np, condition)
        products = np.where(
            classes == 1,
            np.searchsorted(product_cdf[1], uniforms[1], side="right"),
            np.searchsorted(product_cdf[0], uniforms[1], side="right"),
        )
        return paths, products

    def sample(self, prices: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator) -> MarketSample:
        cfg = self.config
        prices = self._check_prices(prices)
        n_agents = agents_in_split(cfg.n_sessions, alphas)
        k, m, n = n_agents.size, cfg.n_sessions, cfg.n_products
        demand = true_demand(np, rng.standard_normal((2, 2, n)), prices, cfg.mu, cfg.sd, cfg.noise_std)
        paths, products = self.sessions(session_classes(m, n_agents).ravel(), demand_condition(np, demand), rng)
        recorded = paths >= 0
        candidate = np.broadcast_to(np.repeat(np.arange(k), m), paths.shape)
        q_hat, _ = demand_proxy((candidate * n + products)[recorded], self._weights[paths[recorded]], k * n)
        return MarketSample(
            q=normalised_proxy(np, q_hat.reshape(k, n)),
            f=step_agent_probability(paths.T.reshape(k, m, cfg.max_len), self.behaviour, cfg.temperature),
            demand=demand,
            n_states=recorded.reshape(cfg.max_len, k, m).sum(axis=(0, 2)),
        )


SAMPLER = NumpySampler
