"""The numpy market backend: dense arrays, the factorised expansion, sufficient statistics.

Why it is fast (each point removes a cost the reference pays):

* factorised sampling: the expanded kernel kron(T, outer(c, c)) row-normalises to
  T[e, e'] * c[p'], so an event path over E states plus one product draw from c per state has
  the expanded chain's distribution; nothing of size (E*N)^2 is ever built;
* inverse CDF with pre-drawn uniforms, one ``(cdf[row] <= u).sum()`` per state instead of a
  label lookup and a weighted choice; the event CDFs are built once per sampler;
* event paths are walked ahead, in blocks of :data:`POOL_BLOCK` sessions per class: a path's
  events depend only on its class's kernel (prices and alpha change the products and the class
  split, not the event chain), so blocks are walked with a handful of numpy calls, each path is
  scored once (its KL gap and f, by :func:`phantom_lib.behaviour.kl.path_gaps`, whose cost follows the
  moves a path makes rather than S^2) and summarised once: f, whether it can be scored, its
  number of states and its number of states in each weight category. The stop state
  (``checkout_start``) is re-wired to move to the absorbing ``session_end``, so the walk
  advances only the sessions still walking and stops when none is left. Each pooled path is
  used once, in order (no reuse: a step's sessions are i.i.d. paths of the class's chain), and
  the pool is emptied whenever a different generator asks, so a reseeded environment
  reproduces its episodes exactly;
* sufficient statistics (Model reference, section 11): a step's proxy, f and reward depend on
  its sessions only through the per-category counts of product-bearing states and f of each
  path, and the products of the states, which are i.i.d. from the class's demand condition c_Y
  whatever the events (the factorised form above). So candidate k's sessions of class Y are a
  contiguous run of the pool, their totals two rows of the pool's prefix sums, and the product
  counts of its n_{k,Y,g} states of category g are one Multinomial(n_{k,Y,g}, c_Y) draw: all
  2 x K x G multinomials of a step are one ``Generator.multinomial`` call, and
  q_hat = sum_Y sum_g omega_g * counts. This is exactly the distribution of one product draw
  per state (tests compare it with the reference backend's walk, with power checks), at a cost
  that no longer grows with M or the session length.
* price-responsive visits (``MarketConfig.visits``, our extension, Model reference, section 10):
  each of the n_{k,Y} sessions of candidate k and class Y visits independently with
  probability rho_Y, so the number that visit is V_{k,Y} ~ Binomial(n_{k,Y}, rho_Y), one
  ``Generator.binomial`` call per draw, and the visiting sessions are the first V_{k,Y} paths
  of the candidate's run (the rest of the run is discarded, never reused). This stays exact:
  the coin flips are independent of the paths and the paths are i.i.d., so which sessions
  visit does not matter, only how many, and the first V paths of a run are V i.i.d. paths
  independent of V; their totals are again two prefix rows (of the window's prefix sums, kept
  for each prepared draw), and their products the same multinomials.
* sales (Model reference, section 12): a session buys one unit of the product of its
  ``checkout_start`` state, so each pooled path also records whether it ends there, the
  candidates' totals give the number of buying sessions B_{k,Y} per class, and their products
  are Multinomial(B_{k,Y}, c_Y): one more ``multinomial`` call per draw, from a second generator
  (:func:`sales_stream`) so that the proxy's draws stay those of a market without sales. Each
  of q and the sales has its exact law; the checkout state's product is drawn twice, though
  (once among the proxy's cart states, once for the sale), so within a step the sales are
  independent of the proxy's product counts given the paths, where in the per-state walk that
  state's product is also counted in q (the reference backend and :class:`PerStateSampler`
  keep that coupling).

Consumers that need every session (the defence experiment) use :meth:`NumpySampler.sessions`
(one product per state); :class:`PerStateSampler` is this backend with one product per state in
:meth:`~Sampler.sample_at` as well (what it did before the sufficient statistics: the bench's
"before" and a second exact sampler for the tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from phantom_lib._arrays import FloatArray, IntArray
from phantom_lib.behaviour.kernels import demand_condition
from phantom_lib.behaviour.kl import agent_probability, path_gaps
from phantom_lib.behaviour.model import Behaviour
from phantom_lib.sim.market import (
    F_UNSCORED,
    MarketConfig,
    MarketSample,
    Sampler,
    absorbing_chains,
    agents_in_split,
    market_proxy,
    search_cdf,
    visit_probability,
    weight_categories,
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
products and the class split do), so each class's paths are walked in blocks and scored once:
numpy's per-call cost is paid once per block instead of once per step."""

POOL_BLOCKS = 4
"""Blocks a class's reused pool holds at most (P = POOL_BLOCKS * POOL_BLOCK paths), with
``MarketConfig.path_reuse`` > 1."""

AHEAD = 64
"""Market draws whose path part (window offsets, per-candidate totals) is prepared in one go per
vector of candidate shares (fewer when one draw alone needs more than :data:`POOL_BLOCK`
sessions of a class): it does not depend on prices, so only the products are left per draw."""

STAT_F, STAT_SCORED, STAT_STATES, STAT_CHECKOUT, STAT_CATEGORIES = 0, 1, 2, 3, 4
"""Columns of a pooled path's statistics: f (0 where it cannot be scored), 1.0 where it can,
its number of recorded states, 1.0 where it ends at a stop state (``checkout_start``: a
purchase), then its number of states in each weight category."""

SALES_STREAM = 0x5A1E5
"""Spawn-key tag of the generator the numpy backend draws the products of purchases from
(:func:`sales_stream`)."""


def sales_stream(rng: np.random.Generator) -> np.random.Generator:
    """A generator for the sales' product draws, derived from ``rng``'s seed (not its state).

    Its seed sequence is ``rng``'s with :data:`SALES_STREAM` appended to the spawn key, so it is
    independent of ``rng``'s stream, drawing from it leaves ``rng``'s numbers unchanged (the
    market without sales draws exactly what it drew before), and the same seed gives the same sales.
    """
    seed = getattr(rng.bit_generator, "seed_seq", None)
    if not isinstance(seed, np.random.SeedSequence):
        raise ValueError("the numpy market backend needs a generator built from a seed (np.random.default_rng(seed)); "
                         f"got one with seed sequence {seed!r}")
    child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, SALES_STREAM), pool_size=seed.pool_size)
    return np.random.Generator(type(rng.bit_generator)(child))


@dataclass
class _PathPool:
    """Walked event paths of one class, oldest first.

    Two ways to draw from it: :meth:`take` uses each path once, in order (``start`` marks the
    first unused one); :meth:`window` draws a run of consecutive paths at a random offset, so
    paths are reused (``drawn`` counts the sessions drawn since the last block was added).

    Attributes:
        events: recorded states of the sessions, flat and session-major.
        offsets: session i's states are ``events[offsets[i]:offsets[i + 1]]``, shape (n + 1,).
        stats: per-session statistics (columns :data:`STAT_F` ...), shape (n, 4 + G).
        prefix: prefix sums of ``stats`` (row i = sum over sessions < i), shape (n + 1, 4 + G).
    """

    events: IntArray
    offsets: IntArray
    stats: FloatArray
    prefix: FloatArray
    start: int = 0
    drawn: int = 0

    @classmethod
    def empty(cls, n_categories: int) -> _PathPool:
        """A pool with no sessions, for paths with ``n_categories`` weight categories."""
        width = STAT_CATEGORIES + n_categories
        return cls(np.empty(0, dtype=np.int64), np.zeros(1, dtype=np.int64), np.empty((0, width)), np.zeros((1, width)))

    @property
    def size(self) -> int:
        """Sessions held (used or not)."""
        return self.offsets.size - 1

    @property
    def remaining(self) -> int:
        """Sessions :meth:`take` has not used yet."""
        return self.size - self.start

    def add(
        self, paths: IntArray, f: FloatArray, category: IntArray, stop: FloatArray, capacity: int | None = None
    ) -> None:
        """Append walked paths (n, L) (-1 after the end) and their f (n,) (NaN: not scorable);
        ``category`` (S,) is each state's weight category, ``stop`` (S,) 1.0 at stop states.

        Paths already taken are dropped; with a ``capacity`` the oldest paths beyond it as well.
        """
        recorded = paths >= 0
        events = paths[recorded]
        lengths = recorded.sum(axis=1)
        n, n_categories = paths.shape[0], self.stats.shape[1] - STAT_CATEGORIES
        owner = np.repeat(np.arange(n) * n_categories, lengths)
        per_category = np.bincount(owner + category[events], minlength=n * n_categories).reshape(n, n_categories)
        scored = np.isfinite(f)
        checkout = np.bincount(np.repeat(np.arange(n), lengths), weights=stop[events], minlength=n)
        stats = np.column_stack([np.where(scored, f, 0.0), scored, lengths, checkout, per_category])
        keep = self.start if capacity is None else max(self.start, self.size + paths.shape[0] - capacity)
        self.events = np.concatenate([self.events[self.offsets[keep] :], events])
        self.stats = np.concatenate([self.stats[keep:], stats])
        self.offsets = np.concatenate([[0], np.cumsum(self.stats[:, STAT_STATES], dtype=np.int64)])
        self.prefix = np.concatenate([np.zeros((1, self.stats.shape[1])), np.cumsum(self.stats, axis=0)])
        self.start = self.drawn = 0

    def take(self, n: int) -> int:
        """Mark the next ``n`` unused sessions used; returns the index of the first."""
        first = self.start
        self.start += n
        return first

    def windows(self, n: int, count: int, rng: np.random.Generator) -> IntArray:
        """The first sessions of ``count`` runs of ``n`` consecutive sessions, shape (count,),
        each at an independent offset uniform on [0, size - n]."""
        self.drawn += n * count
        return rng.integers(0, self.size - n + 1, count)


@dataclass
class _Ahead:
    """The path part of A <= :data:`AHEAD` market draws at one vector of K candidate shares.

    Attributes:
        n_states: product-bearing states per candidate, class and weight category, shape
            (A, K, 2G) (human categories first): the multinomial sizes n_{k,Y,g}.
        f: the step agent probability per candidate, shape (A, K).
        states: states sampled per candidate, shape (A, K).
        checkout: sessions ending at checkout per candidate and class, shape (A, K, 2).
        next: the next draw to use.
    """

    n_states: IntArray
    f: FloatArray
    states: IntArray
    checkout: IntArray
    next: int = 0

    @property
    def size(self) -> int:
        """A, the draws prepared."""
        return int(self.f.shape[0])


@dataclass
class _AheadWindows:
    """The path part of A <= :data:`AHEAD` draws with price-responsive visits: the candidates'
    totals wait for the draw's visiting counts V (2, K), so each class's whole window is kept.

    Attributes:
        prefix: per class, the pool's prefix rows over each draw's window of that class's
            sessions, shape (A, W_Y + 1, 4 + G): row j minus row 0 totals the window's first j.
        starts: where each candidate's run starts in its class's window, shape (2, K).
        counts: sessions per class and candidate, shape (2, K) (the Binomial sizes).
        next: the next draw to use.
    """

    prefix: tuple[FloatArray, FloatArray]
    starts: IntArray
    counts: IntArray
    next: int = 0

    @property
    def size(self) -> int:
        """A, the draws prepared."""
        return int(self.prefix[0].shape[0])

    def totals(self, t: int, visits: IntArray) -> tuple[IntArray, FloatArray, IntArray, IntArray]:
        """:func:`_summaries` of draw ``t`` when candidate k's first ``visits[Y, k]`` sessions of
        class Y visit: shapes (K, 2G), (K,), (K,), (K, 2)."""
        human, agent = (
            prefix[t, start + v] - prefix[t, start] for prefix, start, v in zip(self.prefix, self.starts, visits)
        )
        return _summaries(human, agent)


def _summaries(human: FloatArray, agent: FloatArray) -> tuple[IntArray, FloatArray, IntArray, IntArray]:
    """Multinomial sizes, f, states and purchases from per-class session totals (shape (..., 4 + G) each).

    Returns:
        ``(n_states, f, states, checkout)``: shapes (..., 2G) (human categories first), (...)
        (mean f over the scorable sessions, :data:`F_UNSCORED` when none), (...) (recorded
        states) and (..., 2) (sessions ending at checkout, human and agent).
    """
    both = human + agent
    g = STAT_CATEGORIES
    n_scored = both[..., STAT_SCORED]
    return (
        np.concatenate([human[..., g:], agent[..., g:]], axis=-1).astype(np.int64),  # exact integers
        np.divide(both[..., STAT_F], n_scored, out=np.full(n_scored.shape, F_UNSCORED), where=n_scored > 0),
        both[..., STAT_STATES].astype(np.int64),
        np.stack([human[..., STAT_CHECKOUT], agent[..., STAT_CHECKOUT]], axis=-1).astype(np.int64),
    )


class NumpySampler(Sampler):
    """Market backend on dense numpy arrays with sufficient statistics (see the module docstring)."""

    name = "numpy"

    def __init__(self, behaviour: Behaviour, config: MarketConfig) -> None:
        if config.filter_keep is not None:
            raise ValueError(f"MarketConfig.filter_tpr = {config.filter_tpr!r}: the filtering defence runs on the "
                             "'jax' and 'reference' backends; set EnvConfig.backend to one of them")
        super().__init__(behaviour, config)
        matrices, pi0 = absorbing_chains(behaviour)
        self._cdf, self._cdf0 = search_cdf(np, matrices), search_cdf(np, pi0)
        self._weights = behaviour.weights
        self._omega, self._category = weight_categories(behaviour.weights, behaviour.end)
        self._stop = np.isin(np.arange(behaviour.n_states), behaviour.stop).astype(float)
        self._omega2 = np.concatenate([self._omega, self._omega])  # one weight per (class, category)
        self._ahead: dict[tuple[float, ...], _Ahead | _AheadWindows] = {}
        self._pool_rng: np.random.Generator | None = None
        self._sales_rng: np.random.Generator | None = None
        self._fresh, self._reused = self._empty_pools(), self._empty_pools()

    def _empty_pools(self) -> tuple[_PathPool, _PathPool]:
        return _PathPool.empty(self._omega.size), _PathPool.empty(self._omega.size)

    def _pools(self, rng: np.random.Generator) -> None:
        """Empty every pool when a different generator asks (a reseeded env never sees old draws)."""
        if rng is not self._pool_rng:
            self._fresh, self._reused, self._pool_rng = self._empty_pools(), self._empty_pools(), rng
            self._ahead = {}
            self._sales_rng = None  # derived when first needed (:meth:`_sales`)

    def _sales(self, checkout: IntArray, condition: FloatArray) -> IntArray:
        """Units bought per candidate and product, shape (K, N): the products of the buying
        sessions ``checkout`` (K, 2) (agents' dropped unless ``agents_buy``), Multinomial(B_{k,Y},
        c_Y) from :func:`sales_stream` of the current generator."""
        if self._sales_rng is None:
            assert self._pool_rng is not None
            self._sales_rng = sales_stream(self._pool_rng)
        buying = checkout * self.config.buyers.astype(np.int64)
        return self._sales_rng.multinomial(buying, condition).sum(axis=1)

    def _walk(self, cls: int, n: int, rng: np.random.Generator) -> tuple[IntArray, FloatArray]:
        """``n`` paths of class ``cls``, session-major (n, L), and their f (n,) (NaN: not scorable)."""
        classes = np.full(n, cls, dtype=np.int64)
        uniforms = rng.random((self.config.max_len, n))
        # session-major and contiguous: masks and pair counting run ~15% faster than on the .T view
        paths = np.ascontiguousarray(walk(classes, uniforms, self._cdf, self._cdf0, self.behaviour.end).T)
        gap = path_gaps(paths, self.behaviour.human_centroid, self.behaviour.agent_centroid)
        return paths, agent_probability(gap, self.config.temperature)

    def _fresh_pool(self, cls: int, n: int, rng: np.random.Generator) -> _PathPool:
        """The use-once pool of class ``cls`` holding at least ``n`` unused sessions."""
        self._pools(rng)
        pool = self._fresh[cls]
        if pool.remaining < n:
            pool.add(*self._walk(cls, max(POOL_BLOCK, n), rng), self._category, self._stop)
        return pool

    def _reused_pool(self, cls: int, n: int, rng: np.random.Generator) -> _PathPool:
        """The reused pool of class ``cls`` holding at least ``n`` sessions, with a new block
        walked (replacing the oldest once the pool holds :data:`POOL_BLOCKS`) after every
        ``path_reuse * POOL_BLOCK`` sessions drawn: each path serves ``path_reuse`` sessions on average."""
        self._pools(rng)
        pool = self._reused[cls]
        if pool.size < n or pool.drawn >= self.config.path_reuse * POOL_BLOCK:
            pool.add(
                *self._walk(cls, max(POOL_BLOCK, n), rng), self._category, self._stop, max(POOL_BLOCKS * POOL_BLOCK, n)
            )
        return pool

    def _take_events(self, cls: int, n: int, rng: np.random.Generator) -> tuple[IntArray, IntArray, FloatArray]:
        """The next ``n`` unused sessions of class ``cls``: flat events, lengths (n,) and statistics (n, 3 + G)."""
        pool = self._fresh_pool(cls, n, rng)
        first = pool.take(n)
        events = pool.events[pool.offsets[first] : pool.offsets[first + n]]
        stats = pool.stats[first : first + n]
        return events, stats[:, STAT_STATES].astype(np.int64), stats

    def sessions(self, classes: IntArray, condition: FloatArray, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
        """Sessions of the factorised expanded chain, one per entry of ``classes``, each path
        used once and every state with its own product draw.

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
            events, lengths, _ = self._take_events(cls, where.size, rng)
            session = np.repeat(where, lengths)
            position = np.arange(events.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            paths[session, position] = events
            products[session, position] = _products(cdf[cls], events.size, rng)
        return paths.T, products.T

    def _class_counts(self, alphas: Sequence[float] | FloatArray) -> IntArray:
        """Sessions per class and candidate, shape (2, K) (human, agent)."""
        n_agents = agents_in_split(self.config.n_sessions, alphas)
        return np.stack([self.config.n_sessions - n_agents, n_agents])

    def _visiting(self, counts: IntArray, demand: FloatArray, rng: np.random.Generator) -> IntArray:
        """Visiting sessions per class and candidate, shape (2, K): all of ``counts`` (2, K) with
        fixed visits, Binomial(counts, rho_Y) with price-responsive ones (one call)."""
        if self.config.visits == "fixed":
            return counts
        return rng.binomial(counts, visit_probability(np, demand)[:, None])

    def _prepare(self, alphas: Sequence[float] | FloatArray, rng: np.random.Generator) -> _Ahead | _AheadWindows:
        """The path part of the next draws at these shares (see :class:`_Ahead`): per class,
        A windows of the class's sessions, each split into the candidates' runs
        and totalled by two rows of prefix sums. With ``path_reuse`` = 1 the windows are the next
        unused paths (every session a fresh path); above 1 they start at independent uniform
        offsets into the class's reused pool. With price-responsive visits the windows' prefix
        rows are kept whole (:class:`_AheadWindows`) and totalled once the visits are drawn."""
        counts = self._class_counts(alphas)
        bounds = np.concatenate([np.zeros((2, 1), dtype=np.int64), np.cumsum(counts, axis=1)], axis=1)
        ahead = int(np.clip(POOL_BLOCK // max(int(bounds[:, -1].max()), 1), 1, AHEAD))
        responsive = self.config.visits == "price_responsive"
        rows = []
        for cls in (0, 1):
            size = int(bounds[cls, -1])
            if self.config.path_reuse == 1:
                pool = self._fresh_pool(cls, size * ahead, rng)
                offsets = pool.take(size * ahead) + size * np.arange(ahead)
            else:
                pool = self._reused_pool(cls, size, rng)
                offsets = pool.windows(size, ahead, rng)
            within = np.arange(size + 1) if responsive else bounds[cls]
            rows.append(pool.prefix[offsets[:, None] + within])  # (A, W_Y + 1 or K + 1, 4 + G)
        if responsive:
            return _AheadWindows((rows[0], rows[1]), bounds[:, :-1], counts)
        human, agent = (r[:, 1:] - r[:, :-1] for r in rows)
        return _Ahead(*_summaries(human, agent))

    def sample_at(
        self, demand: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator
    ) -> MarketSample:
        cfg = self.config
        self._pools(rng)
        key = tuple(np.asarray(alphas, dtype=float).tolist())
        ahead = self._ahead.get(key)
        if ahead is None or ahead.next == ahead.size:
            ahead = self._ahead[key] = self._prepare(alphas, rng)
        t = ahead.next
        ahead.next += 1
        if isinstance(ahead, _AheadWindows):
            n_states, f, states, checkout = ahead.totals(t, self._visiting(ahead.counts, demand, rng))
        else:
            n_states, f, states, checkout = ahead.n_states[t], ahead.f[t], ahead.states[t], ahead.checkout[t]
        total = demand.sum(axis=1, keepdims=True)
        condition = demand / total if total.all() else demand_condition(demand)  # the same c, fast path first
        products = rng.multinomial(n_states, np.repeat(condition, self._omega.size, axis=0))  # (K, 2G, N)
        return MarketSample(
            q=market_proxy(np, self._omega2 @ products, cfg.proxy, cfg.n_sessions),
            f=f,
            demand=demand,
            n_states=states,
            sales=self._sales(checkout, condition),
        )


class PerStateSampler(NumpySampler):
    """The numpy backend with one product draw per sampled state (no multinomials).

    What :class:`NumpySampler` did before the sufficient statistics: the same pools, then one
    inverse-CDF product draw per state and a ``bincount`` of the proxies of all K candidates.
    Exact as well; kept as the bench's "before" and as the per-state witness of the tests. With
    price-responsive visits it takes only the V_{k,Y} ~ Binomial(n_{k,Y}, rho_Y) visiting sessions.
    Its sales are the products drawn for the sessions' ``checkout_start`` states (no extra draw).
    """

    name = "numpy-per-state"

    def sample_at(
        self, demand: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator
    ) -> MarketSample:
        cfg = self.config
        counts = self._visiting(self._class_counts(alphas), demand, rng)
        k, n = counts.shape[1], cfg.n_products
        cdf = search_cdf(np, demand_condition(demand))
        keys, weights, per_session, bought = [], [], [], []
        for cls in (0, 1):
            events, lengths, stats = self._take_events(cls, int(counts[cls].sum()), rng)
            candidate = np.repeat(np.arange(k), counts[cls])
            key = np.repeat(candidate, lengths) * n + _products(cdf[cls], events.size, rng)
            keys.append(key)
            weights.append(self._weights[events])
            per_session.append((candidate, stats))
            bought.append(key[(self._stop[events] > 0) & bool(cfg.buyers[cls])])
        # q_hat (Model reference, section 1) per (candidate, product): omega-weighted event counts
        q_hat = np.bincount(np.concatenate(keys), weights=np.concatenate(weights), minlength=k * n)
        candidate = np.concatenate([c for c, _ in per_session])
        stats = np.concatenate([s for _, s in per_session])
        f_sum, n_scored, n_states = (
            np.bincount(candidate, weights=stats[:, column], minlength=k)
            for column in (STAT_F, STAT_SCORED, STAT_STATES)
        )
        return MarketSample(
            q=market_proxy(np, q_hat.reshape(k, n), cfg.proxy, cfg.n_sessions),
            f=np.divide(f_sum, n_scored, out=np.full(k, F_UNSCORED), where=n_scored > 0),
            demand=demand,
            n_states=n_states.astype(np.int64),
            sales=np.bincount(np.concatenate(bought), minlength=k * n).reshape(k, n),
        )


def _products(cdf: FloatArray, n_events: int, rng: np.random.Generator) -> IntArray:
    """One product per event, i.i.d. from a demand condition given as its ``search_cdf`` (N,)."""
    return cdf.searchsorted(rng.random(n_events), side="right")


SAMPLER = NumpySampler
