"""The pricing environment as pure jax functions, gymnax style (Model reference, section 6).

``env.reset(key, params) -> (obs, state)`` and
``env.step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)``
are pure: all randomness comes from ``key``, all numbers from ``params`` (a pytree), and
shapes (N, M, K, L, pool sizes) are static, so both jit-compile and vmap over many environments::

    env, params = make(config, behaviour)
    params = env.refresh(key, params)                  # a fresh pool of paths, e.g. per rollout
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))

The step is :func:`phantom_lib.sim.dynamics.robust_step` traced with ``jax.numpy``; the market
draws are :func:`phantom_lib.sim.samplers.jax.draw_demand` and
:func:`~phantom_lib.sim.samplers.jax.market_draw`: exact draws by sufficient statistics from a
pool of paths and uniform spacings kept in ``params.pool`` (Model reference, section 11; the
sampler module's docstring says why each draw is exact and what dependence the shared pool adds
between draws: two sessions of different steps or environments are the same path with
probability about 1/P, P = ``pool_paths``). :meth:`FunctionalPricingEnv.refresh` walks a new pool.

The candidate shares and the class split are computed inside the step from ``params.step.alpha0``
and ``params.step.eps_alpha`` (:func:`~phantom_lib.sim.dynamics.candidate_shares`), so a batch
of environments may vmap over alpha0, eps_alpha and lambda_coi with one compiled program; the
number of candidates K, N, M, L_max, the proxy, the visits and agents_buy switches, the adversary, reward_on and the
pool
sizes are static.
Actions outside [0, action_levels) are clipped to the nearest level (a pure function cannot
raise; the host drivers raise instead). Episodes do not reset themselves: after ``terminated``
or ``truncated`` call ``reset``.

Keys: any jax PRNG implementation works. The single-env driver :class:`HostEnv` uses
``KEY_IMPL`` ("rbg": fast to compile and draw on CPU). For batches use threefry keys
(``jax.random.key``): under ``vmap`` an rbg key batch draws every environment's numbers from
one key (jax's batching rule for RngBitGenerator), statistically sound but no longer equal
to running environment i alone with key i; threefry keeps that equality.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phantom_lib.behaviour.model import Behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.dynamics import (
    Market,
    PricingState,
    StepParams,
    action_index,
    candidate_shares,
    initial_state,
    observe,
    robust_step,
)
from phantom_lib.sim.samplers.jax import (
    KEY_IMPL,
    MarketArrays,
    Pool,
    PoolShape,
    draw_demand,
    market_arrays,
    market_draw,
    spacing_slots,
    walk_pool,
)

POOL_PATHS = 16384
"""Default paths per class in an environment's pool (at least 8 windows of K * M sessions)."""

POOL_BLOCKS = 4096
"""Default spacing blocks in the pool, capped so that they take at most :data:`POOL_SPACING_MB`."""

POOL_SPACING_MB = 64.0
"""Memory cap of the spacing blocks (B * (M * L_max + 1) float32 values), in MB.

At the study's shapes (M 100, L_max 40) this gives B = 4,096 blocks (64 MB). A smaller cap is
faster (most of a pool walk is its Exp(1) draws, and a batch of different seeds walks and searches
one pool per trial), but two multinomials of different draws share a block with probability about
1/B: :func:`phantom_lib.perf.pools.evaluation_variance` measures what that costs in the variance of
an evaluation's mean reward (more with sales as the reward than with the proxy). The jax engine
records the cap of every batch (``pool_mb``) and re-runs a batch with it."""


class EnvParams(NamedTuple):
    """Numbers of one environment (a pytree of jax arrays).

    Attributes:
        step: the pricing loop's numbers (float32 leaves; int32 for patience and max_steps).
        market: the behaviour and market. pool: the paths and spacings draws take
            (:meth:`FunctionalPricingEnv.refresh` replaces it).
    """

    step: StepParams
    market: MarketArrays
    pool: Pool


def _as_jax(value: Any) -> Any:
    array = np.asarray(value)
    return jnp.asarray(array, dtype=jnp.int32 if array.dtype.kind in "iu" else jnp.float32)


@dataclass(frozen=True)
class FunctionalPricingEnv:
    """Pure-functional twin of :class:`phantom_lib.sim.gym_env.PhantomPricingEnv` (jax backend).

    Holds only the static shapes (hashable, so compiled functions are shared by every env of
    the same shapes); every number lives in :class:`EnvParams`. Build both with :func:`make`.

    Attributes:
        n_products: N. n_sessions: M. max_len: L_max. end: index of ``session_end``.
        n_candidates: K (with eps_alpha = 0 only the first candidate is scored).
        proxy: ``MarketConfig.proxy``. adversary: ``EnvConfig.adversary``.
        pool: the pool's static sizes (:class:`~phantom_lib.sim.samplers.jax.PoolShape`).
        visits: ``MarketConfig.visits`` (``"price_responsive"``: our extension, Model reference,
            section 10).
        agents_buy: ``MarketConfig.agents_buy``. reward_on: ``EnvConfig.reward_on`` (Model
            reference, section 12). filter_keep: ``MarketConfig.filter_keep`` (the filtering
            defence's keep probabilities per class, or ``None``).
    """

    n_products: int
    n_sessions: int
    max_len: int
    end: int
    n_candidates: int
    proxy: str
    adversary: str
    pool: PoolShape
    visits: str = "fixed"
    agents_buy: bool = True
    reward_on: str = "proxy"
    filter_keep: tuple[float, float] | None = None

    @property
    def observation_size(self) -> int:
        """Length of the observation vector, 2N + 4."""
        return 2 * self.n_products + 4

    def refresh(self, key: Any, params: EnvParams) -> EnvParams:
        """``params`` with a freshly walked pool (pure; jit with ``static_argnums=0`` or inside a
        compiled training loop). A fresh pool per rollout keeps averages over many steps from
        resting on one pool's paths."""
        return params._replace(pool=walk_pool(key, params.market, self.pool, self.max_len, self.end))

    def _market(self, key: Any, params: EnvParams) -> Market:
        key_demand, key_sessions = jax.random.split(key)

        def sample(demand: Any, alphas: Any) -> tuple[Any, Any, Any, Any]:
            return market_draw(
                key_sessions,
                demand,
                alphas,
                params.market,
                params.pool,
                self.pool,
                self.n_sessions,
                self.proxy,
                self.visits,
                self.agents_buy,
                self.filter_keep,
            )

        return Market(lambda prices: draw_demand(key_demand, prices, params.market, self.visits), sample)

    def reset(self, key: Any, params: EnvParams) -> tuple[Any, PricingState]:
        """Draw p ~ Uniform(p_low, p_high)^N and one market draw at alpha0."""
        key_prices, key_market = jax.random.split(key)
        prices = jax.random.uniform(key_prices, (self.n_products,), minval=params.step.p_low, maxval=params.step.p_high)
        state, _ = initial_state(jnp, prices, self._market(key_market, params), params.step)
        return observe(jnp, state, params.step), state

    def step(
        self, key: Any, state: PricingState, action: Any, params: EnvParams
    ) -> tuple[Any, PricingState, Any, Any, Any, dict[str, Any]]:
        """One robust pricing step (see :func:`phantom_lib.sim.dynamics.robust_step`); ``action``
        is clipped to [0, action_levels - 1]."""
        action = jnp.clip(action, 0, params.step.scales.shape[0] - 1)
        candidates = candidate_shares(jnp, params.step.alpha0, params.step.eps_alpha, self.n_candidates)
        new, reward, terminated, truncated, info = robust_step(
            jnp, state, action, params.step, self._market(key, params), candidates, self.adversary, self.reward_on
        )
        return observe(jnp, new, params.step), new, reward, terminated, truncated, info


def make(
    config: EnvConfig,
    behaviour: Behaviour,
    *,
    pool_paths: int = POOL_PATHS,
    pool_blocks: int | None = None,
    spacing_mb: float | None = None,
    seed: int = 0,
) -> tuple[FunctionalPricingEnv, EnvParams]:
    """The functional env of ``config`` and its parameters (gymnax's ``make``), with a pool walked
    from ``seed``.

    Args:
        pool_paths: P, paths per class (at least K * M). pool_blocks: B, spacing blocks (at
            least :func:`~phantom_lib.sim.samplers.jax.spacing_slots`: 2 K G, plus 2 K with
            price-responsive visits, plus 2 K for the sales; default :data:`POOL_BLOCKS` within
            ``spacing_mb``). spacing_mb: the default B's memory cap in MB (None:
            :data:`POOL_SPACING_MB`; the jax engine records it to reproduce its pools).
        seed: seeds the first pool (:meth:`FunctionalPricingEnv.refresh` draws others).
    """
    market = config.market
    arrays = market_arrays(behaviour, market)
    k = config.n_candidates
    slots = spacing_slots(k, int(arrays.omega.shape[0]), market.visits)
    n_max = market.n_sessions * market.max_len
    if pool_blocks is None:
        cap = POOL_SPACING_MB if spacing_mb is None else spacing_mb
        pool_blocks = max(slots, min(POOL_BLOCKS, int(cap * 2**20 / (4 * (n_max + 1)))))
    if pool_paths < k * market.n_sessions or pool_blocks < slots:
        raise ValueError(
            f"pool_paths must be >= K * M = {k * market.n_sessions} and pool_blocks >= {slots} (spacing_slots); "
            f"got {pool_paths} and {pool_blocks}"
        )
    shape = PoolShape.of(market, k, pool_paths, pool_blocks)
    env = FunctionalPricingEnv(
        market.n_products,
        market.n_sessions,
        market.max_len,
        behaviour.end,
        k,
        market.proxy,
        config.adversary,
        shape,
        market.visits,
        market.agents_buy,
        config.reward_on,
        market.filter_keep,
    )
    step = StepParams(*(_as_jax(v) for v in config.step_params()))
    pool = jax.jit(walk_pool, static_argnums=(2, 3, 4))(make_key(seed), arrays, shape, market.max_len, behaviour.end)
    return env, EnvParams(step=step, market=arrays, pool=pool)


def make_key(seed: Any) -> Any:
    """A PRNG key of ``KEY_IMPL`` from an integer seed (traced or not)."""
    return jax.random.key(seed, impl=KEY_IMPL)


@partial(jax.jit, static_argnums=0)
def _reset_from_seed(env: FunctionalPricingEnv, seed: Any, params: EnvParams) -> Any:
    """A fresh pool and a reset, both from ``seed``: ``(key, params, obs, state)``."""
    key, key_pool, sub = jax.random.split(make_key(seed), 3)
    params = env.refresh(key_pool, params)
    return key, params, *env.reset(sub, params)


def _packed(tree: Any) -> Any:
    """Every leaf of ``tree`` raveled into one float32 vector (ints up to 2^24 stay exact)."""
    return jnp.concatenate([jnp.ravel(leaf).astype(jnp.float32) for leaf in jax.tree.leaves(tree)])


@partial(jax.jit, static_argnums=0)
def _step_and_split(env: FunctionalPricingEnv, key: Any, state: PricingState, action: Any, params: EnvParams) -> Any:
    """Split the key, step, and pack the results for one host transfer: ``(key, state, packed)``."""
    key, sub = jax.random.split(key)
    obs, state, *rest = env.step(sub, state, action, params)
    return key, state, _packed((obs, state, *rest))


class _Layout:
    """How :func:`_packed` laid a pytree out, to rebuild it on the host from the flat vector."""

    def __init__(self, shapes: Any) -> None:
        leaves, self.treedef = jax.tree.flatten(shapes)
        sizes = [int(np.prod(leaf.shape)) for leaf in leaves]
        self.parts = [
            (start, start + size, leaf.shape, np.dtype(leaf.dtype))
            for start, size, leaf in zip(np.cumsum([0] + sizes[:-1]), sizes, leaves)
        ]

    def unpack(self, flat: np.ndarray) -> Any:
        leaves = [
            flat[a:b].reshape(shape).astype(dtype) if shape else dtype.type(flat[a]).item()
            for a, b, shape, dtype in self.parts
        ]
        return jax.tree.unflatten(self.treedef, leaves)


HOST_POOL_PATHS = 2048
"""Paths per class in :class:`HostEnv`'s pool, walked afresh at every reset (so a seed fixes its
episode): small, because a reset pays the walk. An episode of 100 steps at M = 10, K = 5 draws
about 3,500 sessions per class from it; steps' windows share paths with probability about
W / 2048 per session (see the sampler module)."""

HOST_POOL_BLOCKS = 256
"""Spacing blocks in :class:`HostEnv`'s pool (enough for K <= 25 with 4 weight categories, K <= 21 with
price-responsive visits: :func:`~phantom_lib.sim.samplers.jax.spacing_slots`)."""


class HostEnv:
    """Host-side driver of one functional env for a gymnasium wrapper: numpy out.

    The key and state stay on the device between steps; the key is split inside the compiled
    call and every result comes back packed in one float32 vector (one transfer, unpacked by
    shape on the host; scalars become Python numbers); compiled code is shared by every env
    of the same shapes.
    """

    def __init__(self, config: EnvConfig, behaviour: Behaviour) -> None:
        k, m = config.n_candidates, config.market.n_sessions
        self.env, self.params = make(
            config, behaviour, pool_paths=max(HOST_POOL_PATHS, k * m), pool_blocks=HOST_POOL_BLOCKS
        )
        self.key: Any = None
        self.state: Any = None
        self._layout: _Layout | None = None

    def reset(self, seed: int) -> tuple[Any, PricingState]:
        """Start an episode from an integer seed (a fresh pool, then a reset); returns
        ``(obs, state)`` as numpy values."""
        self.key, self.params, obs, self.state = _reset_from_seed(self.env, np.uint32(seed), self.params)
        return jax.device_get((obs, self.state))

    def step(self, action: int) -> tuple[Any, ...]:
        """``(obs, state, reward, terminated, truncated, info)`` as numpy values; an action
        outside [0, action_levels) is a ``ValueError``."""
        action = action_index(action, int(self.params.step.scales.shape[0]))
        if self._layout is None:
            shapes = jax.eval_shape(self.env.step, self.key, self.state, np.int32(action), self.params)
            self._layout = _Layout(shapes)
        self.key, self.state, packed = _step_and_split(self.env, self.key, self.state, np.int32(action), self.params)
        return tuple(self._layout.unpack(np.asarray(packed)))

    def step_memory(self) -> Any:
        """XLA's memory statistics of the compiled step (argument, output, temporary bytes)."""
        if self.state is None:
            self.reset(0)
        return (
            _step_and_split.lower(self.env, self.key, self.state, np.int32(0), self.params).compile().memory_analysis()
        )
