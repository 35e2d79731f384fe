"""The robust pricing environment (leader) as a gymnasium Env (MODEL.md section 6).

The step logic is written once over an array namespace ``xp`` (numpy or jax.numpy) so the
numpy-backed :class:`PhantomPricingEnv` and the jit-compiled functional environment of
:mod:`phantom_lib.sim.jax_env` run the same code:

* :func:`robust_step`: new prices, K candidate market draws, reward terms, the worst candidate
  (keeping its own sample, erratum 4), margin-floor termination and max-steps truncation
  (erratum 7);
* :func:`observe`: the float32 observation [q (N), p (N), f_last, alpha_adv_last, alpha0, eps_alpha].

A :class:`Limbo` buffer records the alternation of each episode: the leader publishes p_t, the
follower returns q_t.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib.sim.market import Behaviour, MarketConfig, default_behaviour
from phantom_lib.sim.samplers import BACKENDS, make_sampler

FloatArray = npt.NDArray[np.float64]

SCALE_RANGE = (0.8, 1.2)
"""Price multipliers of the lowest and highest action."""

ANCHOR_MARKUP = 1.2
"""The supra-competitive anchor is clip(ANCHOR_MARKUP * mu_H, p_low, p_high)."""


@dataclass(frozen=True)
class EnvConfig:
    """Configuration of :class:`PhantomPricingEnv` (defaults = MODEL.md section 6, "defended").

    Attributes:
        alpha0: nominal share of agent sessions, in [0, 1].
        eps_alpha: half-width of the robustness interval around alpha0 (>= 0).
        n_candidates: K, candidate shares scored per step (>= 1).
        lambda_coi: weight of the information-leak penalty (>= 0).
        info_value: InfoValue, the query tax per unit of agent probability (>= 0).
        eta_ux: weight of the user-experience penalties (>= 0).
        w_profit: weight of profit in the reward.
        action_levels: number of price multipliers in [0.8, 1.2] (>= 2).
        max_steps: steps before the episode is truncated (>= 1).
        p_low, p_high: price bounds (price units), 0 < p_low < p_high.
        margin_floor: margin (mean(p) - p_low) / mean(p) below which a step counts as low.
        patience: consecutive low-margin steps that terminate the episode (>= 1).
        backend: market backend, one of :data:`phantom_lib.sim.samplers.BACKENDS`.
        market: N, M, valuations and session length (:class:`MarketConfig`).
    """

    alpha0: float = 0.3
    eps_alpha: float = 0.15
    n_candidates: int = 5
    lambda_coi: float = 0.2
    info_value: float = 1.0
    eta_ux: float = 0.5
    w_profit: float = 1.0
    action_levels: int = 9
    max_steps: int = 100
    p_low: float = 10.0
    p_high: float = 150.0
    margin_floor: float = 0.05
    patience: int = 5
    backend: str = "numpy"
    market: MarketConfig = field(default_factory=MarketConfig)

    def __post_init__(self) -> None:
        problems: list[str] = []

        def number(name: str) -> float | None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
                problems.append(f"{name} must be a finite number; got {value!r}")
                return None
            return float(value)

        def integer(name: str, symbol: str, minimum: int) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                problems.append(f"{name}{symbol} must be an integer >= {minimum}; got {value!r}")

        alpha0 = number("alpha0")
        if alpha0 is not None and not 0 <= alpha0 <= 1:
            problems.append(f"alpha0 must lie in [0, 1] (a share of sessions); got {alpha0}")
        for name in ("eps_alpha", "lambda_coi", "info_value", "eta_ux"):
            value = number(name)
            if value is not None and value < 0:
                problems.append(f"{name} must be >= 0; got {value}")
        number("w_profit")
        number("margin_floor")
        integer("n_candidates", " (K)", 1)
        integer("action_levels", "", 2)
        integer("max_steps", "", 1)
        integer("patience", "", 1)
        p_low, p_high = number("p_low"), number("p_high")
        if p_low is not None and p_high is not None:
            if p_low <= 0:
                problems.append(f"p_low must be > 0 (margins divide by the mean price); got {p_low}")
            if p_low >= p_high:
                problems.append(f"p_low must be below p_high; got p_low={p_low}, p_high={p_high}")
        if self.backend not in BACKENDS:
            problems.append(f"backend must be one of {', '.join(BACKENDS)}; got {self.backend!r}")
        if not isinstance(self.market, MarketConfig):
            problems.append(f"market must be a MarketConfig; got {type(self.market).__name__}")
        if problems:
            raise ValueError("invalid EnvConfig:\n  - " + "\n  - ".join(problems))

    def replace(self, **fields: Any) -> EnvConfig:
        """A copy with fields changed; MarketConfig fields (``n_products``, ...) may be given flat."""
        own = {f.name for f in dataclasses.fields(self)}
        market_names = {f.name for f in dataclasses.fields(MarketConfig)}
        unknown = sorted(set(fields) - own - market_names)
        if unknown:
            raise TypeError(
                f"unknown EnvConfig field(s) {unknown}; known: {sorted(own | market_names)}"
            )
        market = {k: v for k, v in fields.items() if k in market_names}
        top = {k: v for k, v in fields.items() if k in own}
        if market:
            top["market"] = dataclasses.replace(top.get("market", self.market), **market)
        return dataclasses.replace(self, **top)

    @property
    def scales(self) -> FloatArray:
        """Price multiplier of each action, shape (action_levels,)."""
        return np.linspace(*SCALE_RANGE, self.action_levels)

    @property
    def candidates(self) -> FloatArray:
        """Candidate agent shares alpha_k, shape (K,); [alpha0] when eps_alpha = 0 or K = 1."""
        if self.eps_alpha == 0 or self.n_candidates == 1:
            return np.array([float(self.alpha0)])
        lo, hi = max(0.0, self.alpha0 - self.eps_alpha), min(1.0, self.alpha0 + self.eps_alpha)
        return np.linspace(lo, hi, self.n_candidates)

    @property
    def anchor(self) -> float:
        """Supra-competitive price anchor clip(1.2 * mu_H, p_low, p_high) (price units)."""
        return float(np.clip(ANCHOR_MARKUP * self.market.human_mu, self.p_low, self.p_high))

    def step_params(self) -> StepParams:
        """The numbers :func:`robust_step` needs, as a pytree of numpy values."""
        return StepParams(
            scales=self.scales,
            alphas=self.candidates,
            alpha0=float(self.alpha0),
            eps_alpha=float(self.eps_alpha),
            p_low=float(self.p_low),
            p_high=float(self.p_high),
            lambda_coi=float(self.lambda_coi),
            info_value=float(self.info_value),
            eta_ux=float(self.eta_ux),
            w_profit=float(self.w_profit),
            anchor=self.anchor,
            margin_floor=float(self.margin_floor),
            patience=int(self.patience),
            max_steps=int(self.max_steps),
        )


class StepParams(NamedTuple):
    """Numbers of one environment configuration (a pytree: numpy or jax leaves)."""

    scales: Any
    alphas: Any
    alpha0: Any
    eps_alpha: Any
    p_low: Any
    p_high: Any
    lambda_coi: Any
    info_value: Any
    eta_ux: Any
    w_profit: Any
    anchor: Any
    margin_floor: Any
    patience: Any
    max_steps: Any


class PricingState(NamedTuple):
    """The environment's state between steps.

    Attributes:
        prices: p_t, shape (N,). q: the follower's proxy q_t, shape (N,).
        f: agent probability of the kept sample. alpha_adv: the candidate share it came from.
        t: steps taken. low_margin: consecutive steps with margin below the floor.
    """

    prices: Any
    q: Any
    f: Any
    alpha_adv: Any
    t: Any
    low_margin: Any


SampleFn = Callable[[Any], tuple[Any, Any, Any]]
"""prices (N,) -> (q (K, N), f (K,), sampled states (K,)) for the K candidate shares."""


def price_terms(xp: Any, prices: Any, prev_prices: Any, params: StepParams) -> dict[str, Any]:
    """Terms that depend on prices only: relative change, volatility, supra-competitive share."""
    n = prices.shape[-1]  # means as sums / n: numpy's mean costs twice a sum on (N,) arrays
    rel = (prices - prev_prices) / xp.maximum(prev_prices, 1.0)
    mean_price = prices.sum() / n
    return {
        "volatility": xp.abs(rel).sum() / n,
        "upward": xp.maximum(rel, 0.0).sum() / n,
        "supra": (xp.maximum(prices / params.anchor - 1.0, 0.0) ** 2).sum() / n,
        "supra_share": (prices > params.anchor).sum() / n,
        "coi_level": mean_price - params.p_low,
        "margin": (mean_price - params.p_low) / mean_price,
    }


def reward_terms(xp: Any, prices: Any, q: Any, f: Any, priced: dict[str, Any], params: StepParams) -> dict[str, Any]:
    """Reward and its terms for each candidate (MODEL.md section 6).

    Args:
        prices: p_t, shape (N,). q: proxies, shape (K, N). f: agent probabilities, shape (K,).
        priced: :func:`price_terms` of this step.

    Returns:
        arrays of shape (K,): revenue p.q, budget B = max(p_low * S, 1), profit, coi_leak,
        coi_penalty, ux_penalty, supra_penalty and reward
        r = w_profit * profit - coi_penalty - ux_penalty - supra_penalty.
    """
    total = q.sum(axis=-1)
    budget = xp.maximum(params.p_low * total, 1.0)
    revenue = q @ prices
    profit = revenue - params.p_low * total
    coi_leak = f * params.info_value
    coi_penalty = params.lambda_coi * coi_leak * budget
    ux_penalty = params.eta_ux * budget * (priced["volatility"] + 0.5 * priced["upward"])
    supra_penalty = 0.5 * params.eta_ux * budget * priced["supra"]
    return {
        "revenue": revenue,
        "budget": budget,
        "profit": profit,
        "agent_prob": f,
        "coi_leak": coi_leak,
        "coi_penalty": coi_penalty,
        "ux_penalty": ux_penalty,
        "supra_penalty": supra_penalty,
        "reward": params.w_profit * profit - coi_penalty - ux_penalty - supra_penalty,
    }


def initial_state(xp: Any, prices: Any, sample0: SampleFn, params: StepParams) -> tuple[PricingState, Any]:
    """State after reset: prices p_0 and one market draw at alpha0 (``sample0`` has K = 1).

    Returns ``(state, sampled_states)``.
    """
    q, f, n_states = sample0(prices)
    zero = xp.zeros((), dtype=xp.int32)
    state = PricingState(prices, q[0], f[0], xp.asarray(params.alpha0, dtype=q.dtype), zero, zero)
    return state, n_states.sum()


def robust_step(
    xp: Any, state: PricingState, action: Any, params: StepParams, sample: SampleFn
) -> tuple[PricingState, Any, Any, Any, dict[str, Any]]:
    """One step of the PHANTOM defensive pricing loop.

    1. p_t = clip(p_{t-1} * scale[action], p_low, p_high);
    2. one market draw per candidate share (``sample``);
    3. k* = argmin_k r^(k); the state keeps candidate k*'s own q and f (erratum 4);
    4. terminated after ``patience`` consecutive steps with margin < margin_floor; truncated at
       ``max_steps`` (a time limit, erratum 7) unless terminated.

    Returns:
        ``(state, reward, terminated, truncated, info)``; info holds the chosen candidate's
        terms, ``alpha_adv``, ``candidate`` (k*), ``candidate_rewards`` (K,) and
        ``sampled_states`` (session states drawn over all candidates).
    """
    prices = xp.clip(state.prices * params.scales[action], params.p_low, params.p_high)
    q, f, n_states = sample(prices)
    priced = price_terms(xp, prices, state.prices, params)
    terms = reward_terms(xp, prices, q, f, priced, params)
    k = xp.argmin(terms["reward"])
    low_margin = xp.where(priced["margin"] < params.margin_floor, state.low_margin + 1, 0).astype(xp.int32)
    t = (state.t + 1).astype(xp.int32)
    terminated = low_margin >= params.patience
    truncated = xp.logical_and(t >= params.max_steps, xp.logical_not(terminated))
    alpha_adv = xp.asarray(params.alphas, dtype=q.dtype)[k]
    info = {name: value[k] for name, value in terms.items()}
    info.update(priced)
    info.update(
        alpha_adv=alpha_adv,
        candidate=k,
        candidate_rewards=terms["reward"],
        sampled_states=n_states.sum(),
    )
    new_state = PricingState(prices, q[k], f[k], alpha_adv, t, low_margin)
    return new_state, terms["reward"][k], terminated, truncated, info


def observe(xp: Any, state: PricingState, params: StepParams) -> Any:
    """Observation [q (N), p (N), f_last, alpha_adv_last, alpha0, eps_alpha], float32, length 2N+4."""
    tail = xp.stack([xp.asarray(v, dtype=xp.float32) for v in (state.f, state.alpha_adv, params.alpha0, params.eps_alpha)])
    return xp.concatenate([state.q.astype(xp.float32), state.prices.astype(xp.float32), tail])


@dataclass
class Limbo:
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
            raise RuntimeError("Limbo: the leader published twice without a follower response")
        self.prices.append(np.array(prices, dtype=float))

    def respond(self, q: npt.ArrayLike, agent_prob: float, alpha_adv: float) -> None:
        """The follower returns its proxy q_t (N,) for the last published prices."""
        if len(self.demand) != len(self.prices) - 1:
            raise RuntimeError("Limbo: the follower responded without published prices")
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


def _plain(info: dict[str, Any]) -> dict[str, Any]:
    """Info values as Python numbers (arrays stay numpy arrays)."""
    out: dict[str, Any] = {}
    for name, value in info.items():
        array = np.asarray(value)
        out[name] = array.astype(float) if array.ndim else array.item()  # item: int stays int
    return out


class PhantomPricingEnv(gym.Env[np.ndarray, np.int64]):
    """Robust dynamic pricing against a market contaminated by AI agents (MODEL.md section 6).

    Args:
        config: the configuration (default :class:`EnvConfig`); ``fields`` override it, and
            MarketConfig fields may be given flat (``n_products=3``).
        behaviour: the class kernels and centroids the market samples from (default:
            :func:`phantom_lib.sim.market.default_behaviour`, estimated from the configured data
            source: the synthetic stand-in unless ``$PHANTOM_WHOCLICKED`` names the real file).

    Action: Discrete(action_levels), price multiplier ``config.scales[action]``.
    Observation: float32 (2N + 4,) = [q, p, f_last, alpha_adv_last, alpha0, eps_alpha].
    Step info (Python numbers): revenue, budget, profit, agent_prob, coi_leak, coi_penalty,
    ux_penalty, supra_penalty, reward (the kept candidate's terms), volatility, upward, supra,
    supra_share, coi_level, margin, alpha_adv, candidate (k*), candidate_rewards (K,),
    sampled_states. Episodes are truncated at ``max_steps`` and terminated after ``patience``
    consecutive steps below ``margin_floor``. :attr:`limbo` records the episode's alternation.
    The env's randomness comes from its own generator, seeded by ``reset(seed=...)``; the
    ``backend`` field picks the market implementation (same model, different speed).
    """

    metadata = {"render_modes": []}

    def __init__(self, config: EnvConfig | None = None, behaviour: Behaviour | None = None, **fields: Any) -> None:
        super().__init__()
        config = (config or EnvConfig()).replace(**fields)
        behaviour = default_behaviour() if behaviour is None else behaviour
        self.config = config
        self.behaviour = behaviour
        self.limbo = Limbo()
        n = config.market.n_products
        self.action_space = gym.spaces.Discrete(config.action_levels)
        eps_high = max(1.0, float(config.eps_alpha))
        low = np.concatenate([np.zeros(n), np.full(n, config.p_low), [0.0, 0.0, 0.0, 0.0]]).astype(np.float32)
        high = np.concatenate([np.full(n, 100.0), np.full(n, config.p_high), [1.0, 1.0, 1.0, eps_high]]).astype(np.float32)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self._core: _Core = _JaxCore(config, behaviour) if config.backend == "jax" else _NumpyCore(config, behaviour)
        self._state: PricingState | None = None

    @property
    def state(self) -> PricingState:
        """The current state (after :meth:`reset`)."""
        if self._state is None:
            raise RuntimeError("call reset() before using the environment")
        return self._state

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        state, obs = self._core.reset(self.np_random)
        self._state = state
        self.limbo.clear()
        self.limbo.publish(state.prices)
        self.limbo.respond(state.q, float(state.f), float(state.alpha_adv))
        return obs, {"agent_prob": float(state.f), "alpha_adv": float(state.alpha_adv)}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"action must be an integer in [0, {self.config.action_levels}); got {action!r}")
        state, obs, reward, terminated, truncated, info = self._core.step(self.state, int(action), self.np_random)
        self._state = state
        self.limbo.publish(state.prices)
        self.limbo.respond(state.q, float(state.f), float(state.alpha_adv))
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

    def __init__(self, config: EnvConfig, behaviour: Behaviour) -> None:
        self.config = config
        self.params = config.step_params()
        self.sampler = make_sampler(config.backend, behaviour, config.market)

    def _sample_fn(self, alphas: FloatArray, rng: np.random.Generator) -> SampleFn:
        def sample(prices: FloatArray) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]:
            drawn = self.sampler.sample(prices, alphas, rng)
            return drawn.q, drawn.f, drawn.n_states

        return sample

    def reset(self, rng: np.random.Generator) -> tuple[PricingState, np.ndarray]:
        prices = rng.uniform(self.config.p_low, self.config.p_high, self.config.market.n_products)
        state, _ = initial_state(np, prices, self._sample_fn(np.array([self.params.alpha0]), rng), self.params)
        return state, observe(np, state, self.params)

    def step(self, state: PricingState, action: int, rng: np.random.Generator) -> tuple[Any, ...]:
        new, reward, terminated, truncated, info = robust_step(
            np, state, action, self.params, self._sample_fn(self.params.alphas, rng)
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
