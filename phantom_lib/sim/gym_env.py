"""The robust pricing environment (leader) as a gymnasium Env (Model reference, section 6).

:class:`PhantomPricingEnv` is an adapter: it runs the pure step code of
:mod:`phantom_lib.sim.dynamics` on numpy arrays (``reference`` and ``numpy`` market backends) or
drives the functional jax env of :mod:`phantom_lib.sim.jax_env` (``jax``), and adds what
gymnasium needs: spaces, seeding, Python-number info. An :class:`EpisodeLog` records the
alternation of each episode: the leader publishes p_t, the follower returns q_t.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._arrays import FloatArray
from phantom_lib.behaviour.model import Behaviour, load_behaviour
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.dynamics import (
    Market,
    PricingState,
    action_index,
    initial_state,
    observe,
    robust_step,
)
from phantom_lib.sim.market import Sampler
from phantom_lib.sim.samplers import make_sampler
from phantom_lib.sim.spaces import observation_bounds


@dataclass
class EpisodeLog:
    """History of one episode's alternation: the leader publishes p_t, the follower returns q_t.

    Entry t = 0 is the reset (prices drawn, one market draw at alpha0).
    """

    prices: list[FloatArray] = field(default_factory=list)
    demand: list[FloatArray] = field(default_factory=list)
    agent_prob: list[float] = field(default_factory=list)
    alpha_adv: list[float] = field(default_factory=list)

    def clear(self) -> None:
        """Forget the episode."""
        for values in (self.prices, self.demand, self.agent_prob, self.alpha_adv):
            values.clear()

    def publish(self, prices: npt.ArrayLike) -> None:
        """The leader publishes prices p_t (N,); the follower must respond before the next publish."""
        if len(self.prices) != len(self.demand):
            raise RuntimeError("EpisodeLog: the leader published twice without a follower response")
        self.prices.append(np.array(prices, dtype=float))

    def respond(self, q: npt.ArrayLike, agent_prob: float, alpha_adv: float) -> None:
        """The follower returns its proxy q_t (N,) for the last published prices."""
        if len(self.demand) != len(self.prices) - 1:
            raise RuntimeError("EpisodeLog: the follower responded without published prices")
        self.demand.append(np.array(q, dtype=float))
        self.agent_prob.append(float(agent_prob))
        self.alpha_adv.append(float(alpha_adv))

    def __len__(self) -> int:
        return len(self.demand)

    def to_frame(self) -> pd.DataFrame:
        """Long table: one row per step and product (t, product, price, demand, agent_prob, alpha_adv)."""
        steps = len(self)
        if steps == 0:
            return pd.DataFrame(columns=["t", "product", "price", "demand", "agent_prob", "alpha_adv"])
        n = self.prices[0].size
        return pd.DataFrame(
            {
                "t": np.repeat(np.arange(steps), n),
                "product": np.tile(np.arange(n), steps),
                "price": np.concatenate(self.prices[:steps]),
                "demand": np.concatenate(self.demand),
                "agent_prob": np.repeat(self.agent_prob, n),
                "alpha_adv": np.repeat(self.alpha_adv, n),
            }
        )


_PLAIN_SCALARS: dict[type, type] = {np.float64: float, np.float32: float, np.int64: int, np.int32: int, np.bool_: bool}
"""Python type of each numpy scalar type an info value may have (an int stays an int)."""


def _plain(info: dict[str, Any]) -> dict[str, Any]:
    """Info values as Python numbers; arrays become float arrays."""
    out: dict[str, Any] = {}
    for name, value in info.items():
        convert = _PLAIN_SCALARS.get(type(value))
        if convert is not None:
            out[name] = convert(value)
        elif isinstance(value, np.ndarray):
            out[name] = value.astype(float) if value.ndim else value.item()
        else:
            out[name] = value.item() if isinstance(value, np.generic) else value
    return out


class PhantomPricingEnv(gym.Env[np.ndarray, np.int64]):
    """Robust dynamic pricing against a market contaminated by AI agents (Model reference, section 6).

    Args:
        config: the configuration (default :class:`EnvConfig`); ``fields`` override it, and
            MarketConfig fields may be given flat (``n_products=3``).
        behaviour: the class kernels and centroids the market samples from (default: estimated
            from ``config.market.data_source`` by :func:`phantom_lib.behaviour.load_behaviour`;
            the shipped synthetic stand-in unless the configuration names another file).
        sampler: a market sampler to use instead of the backend's (reference and numpy
            backends; e.g. :class:`~phantom_lib.sim.samplers.numpy.PerStateSampler` in the bench).

    Action: Discrete(action_levels), price multiplier ``config.scales[action]``.
    Observation: float32 (2N + 4,) = [q, p, f_last, alpha_adv_last, alpha0, eps_alpha]
    (slots named by :class:`~phantom_lib.sim.spaces.ObsLayout`, box by
    :func:`~phantom_lib.sim.spaces.observation_bounds`).
    Step info (Python numbers): revenue (= proxy_revenue, p.q), sales_revenue, units_sold, sales
    (N,: units bought per product; Model reference, section 12), budget, profit, agent_prob, coi_leak, coi_penalty,
    ux_penalty, supra_penalty, reward (the kept candidate's terms), volatility, upward, supra,
    supra_share, coi_level, margin, alpha_adv, candidate (k*), candidate_rewards (K,),
    sampled_states. Episodes are truncated at ``max_steps`` and terminated after ``patience``
    consecutive steps below ``margin_floor``. :attr:`episode_log` records the episode's alternation.
    The env's randomness comes from its own generator, seeded by ``reset(seed=...)``; the
    ``backend`` field picks the market implementation (same model, different speed).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        config: EnvConfig | None = None,
        behaviour: Behaviour | None = None,
        sampler: Sampler | None = None,
        **fields: Any,
    ) -> None:
        super().__init__()
        config = (config or EnvConfig()).replace(**fields)
        behaviour = load_behaviour(config.market.data_source) if behaviour is None else behaviour
        self.config = config
        self.behaviour = behaviour
        self.episode_log = EpisodeLog()
        self.action_space = gym.spaces.Discrete(config.action_levels)
        self.observation_space = gym.spaces.Box(*observation_bounds(config, behaviour), dtype=np.float32)
        if sampler is not None and config.backend == "jax":
            raise ValueError(
                "sampler replaces the market of the reference or numpy backend; the jax backend has its own"
            )
        self._core: _Core = (
            _JaxCore(config, behaviour) if config.backend == "jax" else _NumpyCore(config, behaviour, sampler)
        )
        self._state: PricingState | None = None
        self._ended = False

    @property
    def state(self) -> PricingState:
        """The current state (after :meth:`reset`)."""
        if self._state is None:
            raise RuntimeError("call reset() before using the environment")
        return self._state

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        state, obs = self._core.reset(self.np_random)
        self._state = state
        self._ended = False
        self.episode_log.clear()
        self.episode_log.publish(state.prices)
        self.episode_log.respond(state.q, float(state.f), float(state.alpha_adv))
        return obs, {"agent_prob": float(state.f), "alpha_adv": float(state.alpha_adv)}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One period; raises ``RuntimeError`` once the episode has terminated or been truncated
        (gymnasium's convention: call :meth:`reset` first)."""
        if self._ended:
            raise RuntimeError(
                "PhantomPricingEnv.step: the episode has ended (terminated or truncated): "
                "call reset() before stepping again"
            )
        index = action_index(action, self.config.action_levels)
        state, obs, reward, terminated, truncated, info = self._core.step(self.state, index, self.np_random)
        self._state = state
        self._ended = bool(terminated or truncated)
        self.episode_log.publish(state.prices)
        self.episode_log.respond(state.q, float(state.f), float(state.alpha_adv))
        return obs, float(reward), bool(terminated), bool(truncated), _plain(info)


class _Core:
    """Backend-specific half of the env: returns states and observations as numpy values."""

    def reset(self, rng: np.random.Generator) -> tuple[PricingState, np.ndarray]:
        raise NotImplementedError

    def step(self, state: PricingState, action: int, rng: np.random.Generator) -> tuple[Any, ...]:
        """``(state, obs, reward, terminated, truncated, info)`` after ``action``."""
        raise NotImplementedError


class _NumpyCore(_Core):
    """The reference and numpy backends: :func:`robust_step` on numpy arrays."""

    def __init__(self, config: EnvConfig, behaviour: Behaviour, sampler: Sampler | None = None) -> None:
        self.config = config
        self.params = config.step_params()
        self.candidates = config.candidate_set()
        self.sampler = make_sampler(config.backend, behaviour, config.market) if sampler is None else sampler

    def _market(self, rng: np.random.Generator) -> Market:
        sampler = self.sampler

        def sample(
            demand: FloatArray, alphas: FloatArray
        ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
            drawn = sampler.sample_at(demand, alphas, rng)
            return drawn.q, drawn.f, drawn.n_states, drawn.sales

        return Market(lambda prices: sampler.draw_demand(prices, rng), sample)

    def reset(self, rng: np.random.Generator) -> tuple[PricingState, np.ndarray]:
        prices = rng.uniform(self.config.p_low, self.config.p_high, self.config.market.n_products)
        state, _ = initial_state(np, prices, self._market(rng), self.params)
        return state, observe(np, state, self.params)

    def step(self, state: PricingState, action: int, rng: np.random.Generator) -> tuple[Any, ...]:
        new, reward, terminated, truncated, info = robust_step(
            np,
            state,
            action,
            self.params,
            self._market(rng),
            self.candidates,
            self.config.adversary,
            self.config.reward_on,
        )
        return new, observe(np, new, self.params), reward, terminated, truncated, info


class _JaxCore(_Core):
    """The jax backend: the jit-compiled functional env of :mod:`phantom_lib.sim.jax_env`."""

    def __init__(self, config: EnvConfig, behaviour: Behaviour) -> None:
        from phantom_lib.sim.jax_env import HostEnv

        self.host = HostEnv(config, behaviour)

    def reset(self, rng: np.random.Generator) -> tuple[PricingState, np.ndarray]:
        obs, state = self.host.reset(int(rng.integers(0, 2**32 - 1)))
        return state, obs

    def step(self, state: PricingState, action: int, rng: np.random.Generator) -> tuple[Any, ...]:
        obs, new, reward, terminated, truncated, info = self.host.step(action)  # the device keeps the state
        return new, obs, reward, terminated, truncated, info
