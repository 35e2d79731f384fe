"""The pricing environment as pure jax functions, gymnax style (Model reference, section 6).

``env.reset(key, params) -> (obs, state)`` and
``env.step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)``
are pure: all randomness comes from ``key``, all numbers from ``params`` (a pytree), and
shapes (N, M, K, L) are static, so both jit-compile and vmap over many environments::

    env, params = make(config, behaviour)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))

The step is :func:`phantom_lib.sim.dynamics.robust_step` traced with ``jax.numpy``; the market
draws are :func:`phantom_lib.sim.samplers.jax.draw_demand` and
:func:`~phantom_lib.sim.samplers.jax.market_sessions` (all K candidates x M sessions in one batch).
The candidate shares and the class split are computed inside the step from ``params.step.alpha0``
and ``params.step.eps_alpha`` (:func:`~phantom_lib.sim.dynamics.candidate_shares`), so a batch
of environments may vmap over alpha0, eps_alpha and lambda_coi with one compiled program; the
number of candidates K, N, M, L_max, the proxy and the adversary are static.
Episodes do not reset themselves: after ``terminated`` or ``truncated`` call ``reset``.

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
    candidate_shares,
    initial_state,
    observe,
    robust_step,
)
from phantom_lib.sim.samplers.jax import (
    KEY_IMPL,
    MarketArrays,
    draw_demand,
    market_arrays,
    market_sessions,
    n_agents_of,
)


class EnvParams(NamedTuple):
    """Numbers of one environment (a pytree of jax arrays).

    Attributes:
        step: the pricing loop's numbers (float32 leaves; int32 for patience and max_steps).
        market: the behaviour and market.
    """

    step: StepParams
    market: MarketArrays


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
    """

    n_products: int
    n_sessions: int
    max_len: int
    end: int
    n_candidates: int
    proxy: str
    adversary: str

    @property
    def observation_size(self) -> int:
        """Length of the observation vector, 2N + 4."""
        return 2 * self.n_products + 4

    def _market(self, key: Any, params: EnvParams) -> Market:
        key_demand, key_sessions = jax.random.split(key)

        def sample(demand: Any, alphas: Any) -> tuple[Any, Any, Any]:
            n_agents = n_agents_of(alphas, self.n_sessions)
            return market_sessions(
                key_sessions, demand, n_agents, params.market, self.n_sessions, self.max_len, self.end, self.proxy
            )

        return Market(lambda prices: draw_demand(key_demand, prices, params.market), sample)

    def reset(self, key: Any, params: EnvParams) -> tuple[Any, PricingState]:
        """Draw p ~ Uniform(p_low, p_high)^N and one market draw at alpha0."""
        key_prices, key_market = jax.random.split(key)
        prices = jax.random.uniform(
            key_prices, (self.n_products,), minval=params.step.p_low, maxval=params.step.p_high
        )
        state, _ = initial_state(jnp, prices, self._market(key_market, params), params.step)
        return observe(jnp, state, params.step), state

    def step(
        self, key: Any, state: PricingState, action: Any, params: EnvParams
    ) -> tuple[Any, PricingState, Any, Any, Any, dict[str, Any]]:
        """One robust pricing step (see :func:`phantom_lib.sim.dynamics.robust_step`)."""
        candidates = candidate_shares(jnp, params.step.alpha0, params.step.eps_alpha, self.n_candidates)
        new, reward, terminated, truncated, info = robust_step(
            jnp, state, action, params.step, self._market(key, params), candidates, self.adversary
        )
        return observe(jnp, new, params.step), new, reward, terminated, truncated, info


def make(config: EnvConfig, behaviour: Behaviour) -> tuple[FunctionalPricingEnv, EnvParams]:
    """The functional env of ``config`` and its parameters (gymnax's ``make``)."""
    market = config.market
    env = FunctionalPricingEnv(
        market.n_products, market.n_sessions, market.max_len, behaviour.end,
        config.n_candidates, market.proxy, config.adversary,
    )
    params = EnvParams(step=StepParams(*(_as_jax(v) for v in config.step_params())), market=market_arrays(behaviour, market))
    return env, params


def make_key(seed: Any) -> Any:
    """A PRNG key of ``KEY_IMPL`` from an integer seed (traced or not)."""
    return jax.random.key(seed, impl=KEY_IMPL)


@partial(jax.jit, static_argnums=0)
def _reset_from_seed(env: FunctionalPricingEnv, seed: Any, params: EnvParams) -> Any:
    key, sub = jax.random.split(make_key(seed))
    return key, *env.reset(sub, params)


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


class HostEnv:
    """Host-side driver of one functional env for a gymnasium wrapper: numpy out.

    The key and state stay on the device between steps; the key is split inside the compiled
    call and every result comes back packed in one float32 vector (one transfer, unpacked by
    shape on the host; scalars become Python numbers); compiled code is shared by every env
    of the same shapes.
    """

    def __init__(self, config: EnvConfig, behaviour: Behaviour) -> None:
        self.env, self.params = make(config, behaviour)
        self.key: Any = None
        self.state: Any = None
        self._layout: _Layout | None = None

    def reset(self, seed: int) -> tuple[Any, PricingState]:
        """Start an episode from an integer seed; returns ``(obs, state)`` as numpy values."""
        self.key, obs, self.state = _reset_from_seed(self.env, np.uint32(seed), self.params)
        return jax.device_get((obs, self.state))  # type: ignore[no-any-return]

    def step(self, action: int) -> tuple[Any, ...]:
        """``(obs, state, reward, terminated, truncated, info)`` as numpy values."""
        if self._layout is None:
            shapes = jax.eval_shape(self.env.step, self.key, self.state, np.int32(action), self.params)
            self._layout = _Layout(shapes)
        self.key, self.state, packed = _step_and_split(self.env, self.key, self.state, np.int32(action), self.params)
        return tuple(self._layout.unpack(np.asarray(packed)))

    def step_memory(self) -> Any:
        """XLA's memory statistics of the compiled step (argument, output, temporary bytes)."""
        if self.state is None:
            self.reset(0)
        return _step_and_split.lower(self.env, self.key, self.state, np.int32(0), self.params).compile().memory_analysis()
