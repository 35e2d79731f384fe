"""The jax market backend: pooled paths, sufficient statistics and exact multinomials, jit-compiled.

A market draw (Model reference, sections 5 and 11) needs, per candidate k and class Y, the sum
over its n_Y(k) sessions of each path's f, "can be scored" flag, number of states and number of
states per weight category g, and then the product counts of those states, which are
Multinomial(n_{k,Y,g}, c_Y). This module does both from a :class:`Pool` walked ahead:

* **paths**: P event paths per class, walked by inverse CDF in ``lax.scan`` (all sessions of
  both classes in one batch), scored once (pair counts by scatter-add, KL over shared source
  events, f = sigmoid(gap / T): this module's jax twin of :mod:`phantom_lib.behaviour.kl`, a
  test holds them equal) and stored as prefix sums over the pool. A draw takes, per class, a
  run of W_Y = sum_k n_Y(k) consecutive paths starting at an offset uniform on [0, P - W_Y],
  candidate k's sessions being a sub-run: every total is a difference of two prefix rows, so a
  draw costs O(K), whatever M and the session lengths. f is stored in fixed point (2^-f_bits,
  below float32's resolution of f) with wrap-around uint32 prefix sums, exact for any window.
* **products**: Multinomial(n, c) is the count of n i.i.d. uniforms in each interval
  [C_{i-1}, C_i) of the cumulative demand condition, and the first n + 1 partial sums
  S_1 < ... < S_{n+1} of i.i.d. Exp(1) variables give n sorted i.i.d. uniforms S_j / S_{n+1}
  (uniform spacings). The pool holds B blocks of n_max + 1 partial sums (n_max = M * L_max, the
  most states one class and category can have in one candidate); the 2 K G multinomials of a
  draw use consecutive blocks from a uniform offset, and each count #{j <= n : S_j < C_i
  S_{n+1}} is a search in the block that starts from a bucket index (:class:`Spacings`): since
  S_j grows by 1 per step on average, the bucket of width :data:`SPACING_BUCKET` holding the
  target brackets the count between two index entries some 16 positions apart, and a bisection
  of the steps that resolve the pool's widest bucket (6 at the profile's and the study's
  shapes, against ceil(log2(n_max + 1)) = 9 and 12 over the whole block) finishes it within a
  few cache lines. The count is the same integer as a bisection of the whole block: a faster
  search, not a different draw (the random streams, and so every result, are unchanged).

**Price-responsive visits** (``MarketConfig.visits``, our extension, Model reference,
section 10): the number of candidate k's sessions of class Y that visit is
V_{k,Y} ~ Binomial(n_{k,Y}, rho_Y), a multinomial with two outcomes drawn the same way
(#{j <= n : S_j < rho_Y S_{n+1}}, :func:`visiting_sessions`) from the 2K spacing blocks that
follow the draw's 2KG product blocks, and the visiting sessions are the first V_{k,Y} paths of
the candidate's run (two prefix rows again; the rest of the run is unused). Exact: visiting is
independent of the paths, which are i.i.d., so the first V of a run are V i.i.d. paths
independent of V; the product counts then use the visiting states only.

**Sales** (Model reference, section 12): each pooled path also records whether it ends at
``checkout_start`` (a visiting session absorbed there buys one unit of that state's product),
so the buying sessions B_{k,Y} of a candidate's visiting run are two prefix rows again, and
their products are Multinomial(B_{k,Y}, c_Y) drawn from the 2K spacing blocks that follow the
draw's product (and visit) blocks: the proxy's draws are unchanged by them. As in the numpy
backend, q and the sales each have their exact law, but the sale's product is a second draw,
independent of the checkout state's product counted in q.

**Exactness.** Pool entries (paths, spacing blocks) are i.i.d. draws, walked without looking
at prices or shares; a draw selects distinct entries (consecutive runs) at offsets independent
of their values. So the sessions of one draw are i.i.d. paths of each class's chain and its
multinomials are independent and exact: every draw has exactly the distribution of the
per-state walk (up to float32 rounding: the demand condition's CDF and the spacings carry
relative errors of about 1e-7). Tests compare it with the reference backend.

**Dependence.** Draws share the pool. Two sessions of different draws are the same path with
probability about 1/P, two multinomials of different draws use the same block with probability
about 1/B (then their uniforms coincide); within a draw entries are distinct. Totals over
windows of W sessions from two draws correlate by E[overlap] / W, about W / P. Averages over
many draws from one pool rest on its P paths: they converge to the pool's mean, which differs
from the model's by O(1 / sqrt(P)); walk a fresh pool (:func:`walk_pool`, the functional env's
``refresh``) per rollout to keep that error from repeating. Tests check the overlap
correlation and that a larger pool shrinks it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phantom_lib._arrays import FloatArray
from phantom_lib.behaviour.kernels import demand_condition
from phantom_lib.behaviour.kl import EPS
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
    true_demand,
    visit_probability,
    weight_categories,
)

KEY_IMPL = "rbg"
"""PRNG of the keys this package creates: XLA's RngBitGenerator compiles in a fraction of
threefry's time on CPU and draws faster; a caller may pass keys of any implementation."""

SPLIT_GUARD_F32 = 2.0**-20
"""Relative guard of :func:`n_agents_of` against float32 rounding of M * alpha."""


class MarketArrays(NamedTuple):
    """Everything a market draw needs besides the pool, as a pytree of jax arrays (S states,
    class order H, A; G weight categories).

    Attributes:
        cdf: stacked transition CDFs, shape (2S, S), row ``class * S + state``; stop states
            move to ``session_end``; last column +inf (``market.search_cdf``).
        cdf0: initial CDFs, shape (2, S).
        category: weight category of each state, int32 (S,). omega: weight of each category, (G,).
        stop: 1 at stop states (``checkout_start``: a session there buys), int32 (S,).
        log_centroid: log(q + EPS) of each class centroid kernel, shape (2, S, S).
        observed: centroid source events with at least one pair, shape (2, S) (bool).
        mu, sd: valuation mean and sd per class, shape (2,). noise_std, temperature: scalars.
    """

    cdf: Any
    cdf0: Any
    category: Any
    omega: Any
    stop: Any
    log_centroid: Any
    observed: Any
    mu: Any
    sd: Any
    noise_std: Any
    temperature: Any


SPACING_BUCKET = 16.0
"""Width of the value buckets of :class:`Spacings` (a power of two, so that S / width and its floor
are exact in float32). A bucket holds about this many sums (Poisson), the widest of a pool about 40,
so 6 bisection steps finish every search; narrower buckets save a step or two per search but cost
more to index: at the study's shapes (M 100, N 10, K 5, 1,024 envs) widths 2, 8 and 16 ran the
batched env within 5 % of one another, and indexing a pool took 100, 66 and 26 ms more than
walking it without an index (about 340 ms)."""


class Spacings(NamedTuple):
    """B blocks of uniform-spacing partial sums with a bucket index that starts each search near
    its answer (see the module docstring; build with :func:`spacing_blocks`).

    Attributes:
        sums: partial sums S_1 .. S_W of i.i.d. Exp(1) per block, non-decreasing, float32 (B, W).
        index: ``index[b, m]`` = #{j : S_j < m * SPACING_BUCKET} for m = 0 .. R, then W (R + 1
            buckets, the last one holding every S_j >= R * SPACING_BUCKET), int32 (B, R + 2).
        fine_steps: bisection steps that resolve the widest bucket of the index,
            ceil(log2(widest + 1)), int32 scalar.
    """

    sums: Any
    index: Any
    fine_steps: Any


def index_buckets(width: int) -> int:
    """R, the buckets of width :data:`SPACING_BUCKET` below the last (catch-all) one for blocks of
    ``width`` partial sums: they reach W + 8 sqrt(W), 8 standard deviations above the mean of
    S_W (sums beyond share the last bucket, which the bisection steps then also resolve)."""
    return math.ceil((width + 8.0 * math.sqrt(width)) / SPACING_BUCKET)


def spacing_blocks(sums: Any) -> Spacings:
    """:class:`Spacings` of partial sums ``sums`` (B, W), non-decreasing along each row (the index
    by one binary search per bucket edge: R + 1 searches per block, fewer than W when buckets are
    wide, which is why this beats a histogram of the W sums)."""
    n_blocks, width = sums.shape
    edges = jnp.arange(index_buckets(width) + 1, dtype=sums.dtype) * SPACING_BUCKET
    below = jax.vmap(lambda row: jnp.searchsorted(row, edges, side="left", method="scan"))(sums).astype(jnp.int32)
    index = jnp.concatenate([below, jnp.full((n_blocks, 1), width, jnp.int32)], axis=1)
    widest = jnp.diff(index, axis=1).max()
    fine_steps = (jnp.right_shift(widest, jnp.arange(31, dtype=jnp.int32)) > 0).sum().astype(jnp.int32)  # bits
    return Spacings(sums, index, fine_steps)


class Pool(NamedTuple):
    """Paths and uniform spacings walked ahead (see the module docstring).

    Attributes:
        f_prefix: prefix sums mod 2^32 of each path's f in fixed point (f * 2^f_bits, 0 where it
            cannot be scored), uint32 (2, P + 1); row i sums the paths before i.
        count_prefix: prefix sums of each path's (can be scored, states, ends at checkout, states
            per category), int32 (2, P + 1, 3 + G).
        spacings: B blocks of partial sums S_1 .. S_{n_max + 1} of i.i.d. Exp(1) and their
            bucket index (:class:`Spacings`).
    """

    f_prefix: Any
    count_prefix: Any
    spacings: Spacings


class PoolShape(NamedTuple):
    """The static sizes of a :class:`Pool` (hashable: part of a compiled program's shape).

    Attributes:
        paths: P, paths per class. blocks: B, spacing blocks. n_max: the largest multinomial
        size, M * L_max. f_bits: fixed-point bits of f (window sums of f * 2^f_bits fit in 32 bits).
    """

    paths: int
    blocks: int
    n_max: int
    f_bits: int

    @classmethod
    def of(cls, config: MarketConfig, n_candidates: int, paths: int, blocks: int) -> PoolShape:
        """Sizes for M sessions and K candidates: P >= K * M paths and B >= :func:`spacing_slots`
        blocks are enforced by the caller."""
        window = n_candidates * config.n_sessions
        f_bits = min(24, int(math.floor(math.log2((2**32 - 1) / window))))
        return cls(int(paths), int(blocks), config.n_sessions * config.max_len, f_bits)


def market_arrays(behaviour: Behaviour, config: MarketConfig) -> MarketArrays:
    """Build the (float32) jax arrays of a behaviour and market configuration once."""
    matrices, pi0 = absorbing_chains(behaviour)
    s = behaviour.n_states
    centroids = behaviour.centroids
    totals = centroids.sum(axis=2, keepdims=True)
    probs = np.divide(centroids, totals, out=np.zeros_like(centroids), where=totals > 0)
    omega, category = weight_categories(behaviour.weights, behaviour.end)

    def f32(array: Any) -> Any:
        return jnp.asarray(array, dtype=jnp.float32)

    return MarketArrays(
        cdf=f32(search_cdf(np, matrices).reshape(2 * s, s)),
        cdf0=f32(search_cdf(np, pi0)),
        category=jnp.asarray(category, dtype=jnp.int32),
        omega=f32(omega),
        stop=jnp.asarray(np.isin(np.arange(s), behaviour.stop), dtype=jnp.int32),
        log_centroid=f32(np.log(probs + EPS)),
        observed=jnp.asarray(totals[..., 0] > 0),
        mu=f32(config.mu),
        sd=f32(config.sd),
        noise_std=f32(config.noise_std),
        temperature=f32(config.temperature),
    )


def walk(classes: Any, uniforms: Any, arrays: MarketArrays, end: int) -> Any:
    """Event paths of a batch of sessions by inverse CDF in ``lax.scan``.

    Args:
        classes: class of each session, int shape B (any batch shape).
        uniforms: U[0, 1) draws, shape (L,) + B, one per position.
        arrays: the stacked CDFs (:class:`MarketArrays`). end: index of ``session_end``.

    Returns:
        paths, shape (L,) + B (time-major): the recorded states, ``-1`` once a session has ended.
    """
    s = arrays.cdf.shape[1]
    offset = classes * s
    first = (arrays.cdf0[classes] <= uniforms[0][..., None]).sum(-1)

    def advance(state: Any, u: Any) -> tuple[Any, Any]:
        nxt = (arrays.cdf[offset + state] <= u[..., None]).sum(-1)
        return nxt, nxt

    _, rest = jax.lax.scan(advance, first, uniforms[1:])
    paths = jnp.concatenate([first[None], rest], axis=0)
    return jnp.where(paths == end, -1, paths)


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


def path_agent_probability(paths: Any, arrays: MarketArrays) -> tuple[Any, Any]:
    """f(s) of each path (the jax twin of ``kl.agent_probability(kl.path_gaps(...))``).

    Args:
        paths: event paths, shape (L,) + B, ``-1`` after a session ends.

    Returns:
        ``(f, scored)``, shape B: f = sigmoid(gap / T) (0 where the path cannot be scored) and
        whether it can (at least one source event shared with each centroid).
    """
    counts = pair_counts(paths, arrays.cdf.shape[1])[..., None, :, :]  # B + (1, S, S) against (2, S, S)
    total = counts.sum(-1)
    p = counts / jnp.where(total > 0, total, 1.0)[..., None]
    kl = jnp.where(p > 0, (p + EPS) * (jnp.log(p + EPS) - arrays.log_centroid), 0.0).sum(-1)  # B + (2, S)
    shared = (total > 0) & arrays.observed
    n_shared = shared.sum(-1)
    delta = jnp.where(shared, kl, 0.0).sum(-1) / jnp.maximum(n_shared, 1)  # B + (2,): Delta_H, Delta_A
    scored = (n_shared > 0).all(-1)
    f = 0.5 * (1.0 + jnp.tanh(0.5 * (delta[..., 0] - delta[..., 1]) / arrays.temperature))
    return jnp.where(scored, f, 0.0), scored


def _prefix(values: Any) -> Any:
    """Prefix sums along axis 1 with a leading zero row: shape (2, P + 1, ...) for (2, P, ...)."""
    zero = jnp.zeros((values.shape[0], 1) + values.shape[2:], dtype=values.dtype)
    return jnp.concatenate([zero, jnp.cumsum(values, axis=1, dtype=values.dtype)], axis=1)


def walk_pool(key: Any, arrays: MarketArrays, shape: PoolShape, max_len: int, end: int) -> Pool:
    """A fresh :class:`Pool`: P paths per class (walked, scored, summed) and B spacing blocks."""
    key_paths, key_spacings = jax.random.split(key)
    classes = jnp.repeat(jnp.arange(2, dtype=jnp.int32), shape.paths).reshape(2, shape.paths)
    paths = walk(classes, jax.random.uniform(key_paths, (max_len, 2, shape.paths)), arrays, end)  # (L, 2, P)
    recorded = paths >= 0
    f, scored = path_agent_probability(paths, arrays)
    n_categories = arrays.omega.shape[0]
    per_category = (jax.nn.one_hot(arrays.category[jnp.maximum(paths, 0)], n_categories, dtype=jnp.int32)
                    * recorded[..., None]).sum(0)  # (2, P, G)
    checkout = (arrays.stop[jnp.maximum(paths, 0)] * recorded).sum(0)  # (2, P): 1 where the path ends at checkout
    counts = jnp.concatenate([scored[..., None].astype(jnp.int32), recorded.sum(0)[..., None].astype(jnp.int32),
                              checkout[..., None].astype(jnp.int32), per_category], axis=-1)
    fixed = jnp.round(f * 2.0**shape.f_bits).astype(jnp.uint32)
    sums = jnp.cumsum(jax.random.exponential(key_spacings, (shape.blocks, shape.n_max + 1)), axis=1)
    return Pool(_prefix(fixed), _prefix(counts), spacing_blocks(sums))


def n_agents_of(alphas: Any, n_sessions: int) -> Any:
    """n_A = floor(M * alpha) per share in float32 (traced shares allowed), int32 like ``alphas``.

    The guard M * 2^-20 absorbs float32 rounding of M * alpha (at most about M * 2^-23), so the
    split equals :func:`phantom_lib.sim.market.agents_in_split` on the same shares.
    """
    return jnp.floor(n_sessions * alphas + n_sessions * SPLIT_GUARD_F32).astype(jnp.int32)


def draw_demand(key: Any, prices: Any, arrays: MarketArrays, visits: str = "fixed") -> Any:
    """True demand per class at prices p (N,), shape (2, N) (``market.true_demand`` with
    ``visits``, static): rows summing to 100 (or zero); to 100 rho_Y with price-responsive visits."""
    z = jax.random.normal(key, (2, 2, prices.shape[0]))
    return true_demand(jnp, z, prices, arrays.mu, arrays.sd, arrays.noise_std, visits)


def spacing_slots(n_candidates: int, n_categories: int, visits: str) -> int:
    """Spacing blocks one market draw uses: 2 K G product multinomials, plus 2 K visit
    binomials with price-responsive visits, plus 2 K sales multinomials (a pool needs at least
    this many, :class:`PoolShape`)."""
    return _sales_skip(n_candidates, n_categories, visits) + 2 * n_candidates


def _sales_skip(n_candidates: int, n_categories: int, visits: str) -> int:
    """Blocks a draw uses before its sales blocks: 2 K G products, then 2 K visits if responsive."""
    return 2 * n_candidates * (n_categories + (visits == "price_responsive"))


def counts_below(spacings: Spacings, block: Any, size: Any, target: Any) -> Any:
    """#{j < size : S_j < target} in block ``block`` of ``spacings``, for flat 1-D int32 ``block``,
    ``size`` (each <= W) and float32 ``target`` of one length.

    The count lies between the index entries of the target's bucket (every S_j below the bucket
    is below the target, every one above it is not), and ``spacings.fine_steps`` bisections of
    that bracket find it: the same integer as a bisection of [0, size). The searches run on flat
    1-D index arrays in a loop (under vmap XLA on CPU gathers these several times faster than
    multi-dimensional or unrolled ones) whose trip count is the pool's (a while loop; under vmap
    over pools, the batch's largest).
    """
    width, buckets = spacings.sums.shape[1], spacings.index.shape[1] - 2
    sums, index = spacings.sums.reshape(-1), spacings.index.reshape(-1)
    scaled = jnp.minimum(target / SPACING_BUCKET, buckets)
    bucket = jnp.where(target > 0, jnp.floor(scaled), 0).astype(jnp.int32)  # a NaN target: bucket 0, count 0
    at = block * (buckets + 2) + bucket
    base = block * width

    def halve(_: Any, bounds: tuple[Any, Any]) -> tuple[Any, Any]:  # first j in [lo, hi) with S_j >= target
        lo, hi = bounds
        mid = (lo + hi) // 2
        below = (sums[base + mid] < target) & (mid < hi)
        return jnp.where(below, mid + 1, lo), jnp.where(below, hi, mid)

    start = (jnp.minimum(index[at], size), jnp.minimum(index[at + 1], size))
    below, _ = jax.lax.fori_loop(0, spacings.fine_steps, halve, start)
    return below


def spacing_multinomials(key: Any, n: Any, condition: Any, spacings: Spacings, skip: int = 0) -> Any:
    """Independent Multinomial(n[y, k, g], condition[y]) draws from consecutive spacing blocks.

    Args:
        key: PRNG key (the offset of the first block). n: sizes, int (2, K, G), each <= n_max.
        condition: c per class, shape (2, N), rows summing to 1. spacings: ``Pool.spacings``.
        skip: the blocks start ``skip`` blocks after the key's offset (static), so that two calls
            with one key use distinct blocks.

    Returns:
        counts, int32 (2, K, G, N): count i = #{j <= n : S_j / S_{n+1} in [C_{i-1}, C_i)}
        (:func:`counts_below` at each C_i S_{n+1}).
    """
    n_blocks, width = spacings.sums.shape
    block = (jax.random.randint(key, (), 0, n_blocks) + skip + jnp.arange(n.size).reshape(n.shape)) % n_blocks
    total = spacings.sums.reshape(-1)[block * width + n]  # S_{n+1}
    thresholds = condition.shape[1] - 1
    target = (jnp.cumsum(condition, axis=-1)[:, None, None, :-1] * total[..., None]).reshape(-1)
    block = jnp.broadcast_to(block[..., None], n.shape + (thresholds,)).reshape(-1)
    size = jnp.broadcast_to(n[..., None], n.shape + (thresholds,)).reshape(-1).astype(jnp.int32)
    below = counts_below(spacings, block, size, target).reshape(n.shape + (thresholds,))
    edges = jnp.concatenate([jnp.zeros(n.shape + (1,), jnp.int32), below, n[..., None].astype(jnp.int32)], axis=-1)
    return jnp.diff(edges, axis=-1)


def visiting_sessions(key: Any, counts: Any, rho: Any, spacings: Spacings, skip: int) -> Any:
    """V ~ Binomial(counts[y, k], rho[y]) per class and candidate, int32 (2, K), exact.

    :func:`spacing_multinomials` with two outcomes (visits, does not), ``skip`` blocks after the
    key's offset; rho >= 1 gives every session (no float32 tie between S_n and S_{n+1} can
    drop one). Args: counts: sessions, int (2, K); rho: visit probability per class, (2,).
    """
    outcomes = jnp.stack([rho, 1.0 - rho], axis=-1)  # (2, 2)
    drawn = spacing_multinomials(key, counts[..., None], outcomes, spacings, skip)[..., 0, 0]
    return jnp.where(rho[:, None] >= 1.0, counts, drawn)


def market_draw(
    key: Any, demand: Any, alphas: Any, arrays: MarketArrays, pool: Pool, shape: PoolShape, n_sessions: int, proxy: str,
    visits: str = "fixed", agents_buy: bool = True, keep: tuple[float, float] | None = None,
) -> tuple[Any, Any, Any, Any]:
    """M sessions for each of K candidate shares at true demand ``demand`` (2, N), from ``pool``.

    Args:
        key: PRNG key (window offsets and the first spacing block). alphas: shares, shape (K,).
        shape: the pool's static sizes. proxy: one of ``PROXIES``. visits: one of ``VISITS``
            (static): with ``"price_responsive"`` only V ~ Binomial(n_{k,Y}, rho_Y) sessions of
            each class and candidate visit (:func:`visiting_sessions`), the first V of the run.
        agents_buy: whether agent sessions at checkout buy (static; ``MarketConfig.agents_buy``).
        keep: the filtering defence (static; ``MarketConfig.filter_keep``): with per-class keep
            probabilities, q counts only :func:`kept_sessions` of each class's visitors (the first
            ones of its run: sessions of a class are exchangeable); sales and f count every visitor.

    Returns:
        ``(q (K, N), f (K,), sampled states (K,), sales (K, N))``: sales are the units bought,
        int32, Multinomial(B_{k,Y}, c_Y) over the B_{k,Y} visiting sessions ending at checkout.
    """
    n_agents = n_agents_of(alphas, n_sessions)
    counts = jnp.stack([n_sessions - n_agents, n_agents])  # (2, K)
    bounds = jnp.concatenate([jnp.zeros((2, 1), jnp.int32), jnp.cumsum(counts, axis=1)], axis=1)  # (2, K + 1)
    key_windows, key_blocks = jax.random.split(key)
    k, n_categories = alphas.shape[0], arrays.omega.shape[0]
    if visits == "price_responsive":
        product_slots = 2 * k * n_categories  # the visit blocks follow the 2 K G product blocks
        counts = visiting_sessions(
            key_blocks, counts, visit_probability(jnp, demand), pool.spacings, product_slots
        )
    offsets = jax.random.randint(key_windows, (2,), 0, shape.paths - bounds[:, -1] + 1)
    starts = offsets[:, None] + bounds[:, :-1]  # (2, K): each candidate's run, of which the first counts[y, k] are used
    ends = starts + counts
    f_sum = (
        jnp.take_along_axis(pool.f_prefix, ends, axis=1) - jnp.take_along_axis(pool.f_prefix, starts, axis=1)
    ).astype(jnp.float32).sum(0) * 2.0**-shape.f_bits  # uint32 wraps back
    rows = jnp.arange(2)[:, None]
    runs = pool.count_prefix[rows, ends] - pool.count_prefix[rows, starts]  # (2, K, 3 + G)
    n_scored, n_states = runs[..., 0].sum(0), runs[..., 1].sum(0)
    condition = demand_condition(demand, jnp)
    if keep is not None:
        kept = kept_sessions(jax.random.fold_in(key, KEEP_STREAM), counts, keep)
        seen = pool.count_prefix[rows, starts + kept] - pool.count_prefix[rows, starts]  # the kept sessions' runs
    else:
        seen = runs
    products = spacing_multinomials(key_blocks, seen[..., 3:], condition, pool.spacings)
    buying = runs[..., 2:3] * jnp.array([[[1]], [[int(agents_buy)]]], dtype=runs.dtype)  # (2, K, 1)
    sales = spacing_multinomials(
        key_blocks, buying, condition, pool.spacings, _sales_skip(k, n_categories, visits)
    ).sum(axis=(0, 2))
    q_hat = jnp.einsum("ykgn,g->kn", products.astype(jnp.float32), arrays.omega)
    f = jnp.where(n_scored > 0, f_sum / jnp.maximum(n_scored, 1), F_UNSCORED)
    return market_proxy(jnp, q_hat, proxy, n_sessions), f, n_states, sales


KEEP_STREAM = 7
"""``fold_in(key, KEEP_STREAM)`` of a draw's key draws the filtering defence's kept counts (a stream
of its own, so the filter leaves every other draw of the step unchanged)."""


def kept_sessions(key: Any, counts: Any, keep: tuple[float, float]) -> Any:
    """Sessions left in q by the filtering defence: Binomial(counts[y, k], keep[y]), int32 (2, K).

    A keep probability of 1 keeps every session exactly (so rates 0 equal no filter bit for bit).
    """
    p = jnp.asarray(keep, jnp.float32)[:, None]
    drawn = jax.random.binomial(key, counts.astype(jnp.float32), jnp.broadcast_to(p, counts.shape)).astype(jnp.int32)
    return jnp.where(p >= 1.0, counts, jnp.clip(drawn, 0, counts))


class JaxSampler(Sampler):
    """Market backend in jax: each draw walks a fresh pool of exactly the paths and spacing
    blocks it needs (so draws are independent), then :func:`market_draw` (jit-compiled per K)."""

    name = "jax"

    def __init__(self, behaviour: Behaviour, config: MarketConfig) -> None:
        super().__init__(behaviour, config)
        self.arrays = market_arrays(behaviour, config)
        self._draws: dict[int, Any] = {}

    def _draw(self, k: int) -> Any:
        if k not in self._draws:
            cfg = self.config
            shape = PoolShape.of(
                cfg, k, k * cfg.n_sessions, spacing_slots(k, int(self.arrays.omega.shape[0]), cfg.visits)
            )

            def fresh(key: Any, demand: Any, alphas: Any, arrays: MarketArrays) -> tuple[Any, Any, Any, Any]:
                key_pool, key_draw = jax.random.split(key)
                pool = walk_pool(key_pool, arrays, shape, cfg.max_len, self.behaviour.end)
                return market_draw(
                    key_draw,
                    demand,
                    alphas,
                    arrays,
                    pool,
                    shape,
                    cfg.n_sessions,
                    cfg.proxy,
                    cfg.visits,
                    cfg.agents_buy,
                    cfg.filter_keep,
                )

            self._draws[k] = jax.jit(fresh)
        return self._draws[k]

    def sample_at(
        self, demand: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator
    ) -> MarketSample:
        alphas = np.asarray(alphas, dtype=float)
        agents_in_split(self.config.n_sessions, alphas)  # validates the shares
        key = jax.random.key(int(rng.integers(0, 2**32 - 1)), impl=KEY_IMPL)
        q, f, n_states, sales = jax.device_get(
            self._draw(alphas.size)(
                key, jnp.asarray(demand, jnp.float32), jnp.asarray(alphas, jnp.float32), self.arrays
            )
        )
        return MarketSample(
            q=np.asarray(q, float),
            f=np.asarray(f, float),
            demand=np.asarray(demand, float),
            n_states=np.asarray(n_states),
            sales=np.asarray(sales, dtype=np.int64),
        )


SAMPLER = JaxSampler
