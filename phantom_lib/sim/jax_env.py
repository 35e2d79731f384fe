"""The pricing environment as pure jax functions, gymnax style (MODEL.md section 6).

``env.reset(key, params) -> (obs, state)`` and
``env.step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)``
are pure: all randomness comes from ``key``, all numbers from ``params`` (a pytree), and
shapes (N, M, K, L) are static, so both jit-compile and vmap over many environments::

    env, params = make(config, behaviour)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))

The step is :func:`phantom_lib.sim.dynamics.robust_step` traced with ``jax.numpy``; the market draw is
:func:`phantom_lib.sim.samplers.jax.market_draw` (all K candidates x M sessions in one batch).
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
    PricingState,
    SampleFn,
    StepParams,
    initial_state,
    observe,
    robust_step,
)
from phantom_lib.sim.market import agents_in_split
from phantom_lib.sim.samplers.jax import (
    KEY_IMPL,
    MarketArrays,
    market_arrays,
    market_draw,
)


class EnvParams(NamedTuple):
    """Numbers of one environment (a pytree of jax arrays).

    Attributes:
        step: the pricing loop's numbers (float32 leaves). market: the behaviour and market.
        n_agents: n_A of each candidate share, int32 (K,). n_agents0: n_A at alpha0, int32 (1,).
    """

    step: StepParams
    market: MarketArrays
    n_agents: Any
    n_agents0: Any


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
    """

    n_products: int
    n_sessions: int
    max_len: int
    end: int

    @property
    def observation_size(self) -> int:
        """Length of the observation vector, 2N + 4."""
        return 2 * self.n_products + 4

    def _sampler(self, key: Any, n_agents: Any, params: EnvParams) -> SampleFn:
        def sample(prices: Any) -> tuple[Any, Any, Any]:
            q, f, _, n_states = market_draw(
                key, prices, n_agents, params.market, self.n_sessions, self.max_len, self.end
            )
            return q, f, n_states

        return sample

    def reset(self, key: Any, params: EnvParams) -> tuple[Any, PricingState]:
        """Draw p ~ Uniform(p_low, p_high)^N and one market draw at alpha0."""
        key_prices, key_market = jax.random.split(key)
        prices = jax.random.uniform(
            key_prices, (self.n_products,), minval=params.step.p_low, maxval=params.step.p_high
        )
        state, _ = initial_state(jnp, prices, self._sampler(key_market, params.n_agents0, params), params.step)
        return observe(jnp, state, params.step), state

    def step(
        self, key: Any, state: PricingState, action: Any, params: EnvParams
    ) -> tuple[Any, PricingState, Any, Any, Any, dict[str, Any]]:
        """One robust pricing step (see :func:`phantom_lib.sim.dynamics.robust_step`)."""
        new, reward, terminated, truncated, info = robust_step(
            jnp, state, action, params.step, self._sampler(key, params.n_agents, params)
        )
        return observe(jnp, new, params.step), new, reward, terminated, truncated, info


def make(config: EnvConfig, behaviour: Behaviour) -> tuple[FunctionalPricingEnv, EnvParams]:
    """The functional env of ``config`` and its parameters (gymnax's ``make``)."""
    market = config.market
    step = config.step_params()
    env = FunctionalPricingEnv(market.n_products, market.n_sessions, market.max_len, behaviour.end)
    params = EnvParams(
        step=StepParams(*(_as_jax(v) for v in step)),
        market=market_arrays(behaviour, market),
        n_agents=jnp.asarray(agents_in_split(market.n_sessions, step.alphas), dtype=jnp.int32),
        n_agents0=jnp.asarray(agents_in_split(market.n_sessions, [step.alpha0]), dtype=jnp.int32),
    )
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
