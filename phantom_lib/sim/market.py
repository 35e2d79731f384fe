"""The market (follower) of the pricing game: true demand, sessions, demand proxy, f (MODEL.md 5).

Given prices p (N,) and a share of agent sessions alpha, one market draw

1. draws true demand per class Y in (human, agent): valuation v ~ Normal(mu_Y, sd_Y) and noise
   ~ Normal(0, noise_std) per product, d_Y = max(0, v - p + noise), normalised to sum 100;
2. splits the M sessions: n_A = floor(M * alpha) agent sessions, n_H = M - n_A human ones;
3. samples each class's sessions from its event kernel expanded with the demand condition
   c_Y = d_Y / sum(d_Y) (uniform if all zero): start (event ~ pi0_Y, product ~ c_Y), then step
   until ``session_end`` or ``checkout_start`` is reached or L_max states are recorded. In the
   factorised form of the expansion the next product is drawn from c_Y whatever the current
   one, so an event path and i.i.d. product draws give the expanded chain's distribution;
4. returns the demand proxy q (N,) over all M sessions (MODEL.md section 1) and the step's
   agent probability f = mean f(s) over the sessions that can be scored (section 4).

The robust pricing loop scores K candidate shares alpha_k at the same prices. True demand
depends on prices, not on alpha, so it is drawn once per market step and shared by the K
candidates; each candidate draws its own M sessions. A backend (``phantom_lib.sim.samplers``)
implements :class:`Sampler` and returns a :class:`MarketSample` for all K candidates at once.

Class order everywhere: index 0 = human, 1 = agent.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib.behaviour import kl
from phantom_lib.data.events import CHECKOUT, PROXY_EPS, SESSION_END, weights_of
from phantom_lib.behaviour.kernels import Kernel, estimate_by_class

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CLASSES = ("human", "agent")
"""Class order of every per-class array: 0 = human, 1 = agent."""

F_UNSCORED = 0.5
"""Step agent probability when no session of the step can be scored (sigmoid(0): no evidence)."""

SPLIT_GUARD = 1e-9
"""Added to M * alpha before the floor so that binary rounding (0.7 * 10 = 6.999...) does not drop a session."""


def _frozen(values: list[float]) -> FloatArray:
    """A read-only float array (safe to cache on a frozen config)."""
    array = np.array(values, dtype=float)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class MarketConfig:
    """Parameters of the market (MODEL.md section 5).

    Attributes:
        n_products: N, products in the catalogue (>= 1).
        n_sessions: M, sessions sampled per market draw (>= 1).
        human_mu, human_sd: mean and standard deviation of human valuations (price units).
        agent_mu, agent_sd: the same for agents.
        noise_std: standard deviation of the demand noise (price units).
        max_len: L_max, the most states a session records (>= 1).
        temperature: T of the agent probability f = sigmoid(gap / T) (> 0).
    """

    n_products: int = 10
    n_sessions: int = 100
    human_mu: float = 50.0
    human_sd: float = 10.0
    agent_mu: float = 45.0
    agent_sd: float = 15.0
    noise_std: float = 1.0
    max_len: int = 40
    temperature: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        for name, symbol in (("n_products", "N"), ("n_sessions", "M"), ("max_len", "L_max")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                problems.append(f"{name} ({symbol}) must be an integer >= 1; got {value!r}")
        for name in ("human_mu", "agent_mu"):
            if not math.isfinite(getattr(self, name)):
                problems.append(f"{name} must be a finite number; got {getattr(self, name)!r}")
        for name in ("human_sd", "agent_sd", "noise_std"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                problems.append(f"{name} must be a finite number >= 0; got {value!r}")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            problems.append(f"temperature must be a finite number > 0; got {self.temperature!r}")
        if problems:
            raise ValueError("invalid MarketConfig:\n  - " + "\n  - ".join(problems))

    @functools.cached_property
    def mu(self) -> FloatArray:
        """Valuation means per class, shape (2,) (human, agent); read-only, built once."""
        return _frozen([self.human_mu, self.agent_mu])

    @functools.cached_property
    def sd(self) -> FloatArray:
        """Valuation standard deviations per class, shape (2,); read-only, built once."""
        return _frozen([self.human_sd, self.agent_sd])


def _centroid_from(kernel: Kernel) -> FloatArray:
    """Event-to-event pair counts of a class: its transition counts without moves to session_end.

    A kernel built without counts contributes its transition probabilities instead (the
    divergence normalises rows, so only their proportions matter).
    """
    counts = kernel.counts if kernel.counts.sum() > 0 else kernel.matrix
    centroid = np.array(counts, dtype=float)
    centroid[:, kernel.end] = 0.0
    centroid[kernel.end, :] = 0.0
    return centroid


@dataclass(frozen=True)
class Behaviour:
    """The behaviour the market samples from: event-level class kernels and class centroids.

    Attributes:
        human, agent: event-level kernels (S states including ``session_end``) over one shared
            label order; rows = source.
        human_centroid, agent_centroid: pooled event-to-event pair counts of each class, shape
            (S, S); the ``session_end`` row and column are zero (MODEL.md section 4).
    """

    human: Kernel
    agent: Kernel
    human_centroid: FloatArray = field(default=None)  # type: ignore[assignment]
    agent_centroid: FloatArray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.human.labels != self.agent.labels:
            raise ValueError(
                "Behaviour needs both kernels over one state order; got human "
                f"{list(self.human.labels)} and agent {list(self.agent.labels)} "
                "(build them together with kernels.estimate_by_class)"
            )
        s = self.human.n_states
        for name, kernel in (("human_centroid", self.human), ("agent_centroid", self.agent)):
            value = getattr(self, name)
            centroid = _centroid_from(kernel) if value is None else np.asarray(value, dtype=float)
            if centroid.shape != (s, s):
                raise ValueError(f"{name} must have shape ({s}, {s}); got {centroid.shape}")
            if not np.all(np.isfinite(centroid)) or np.any(centroid < 0):
                raise ValueError(f"{name} must hold finite counts >= 0")
            end = self.human.end
            if centroid[:, end].any() or centroid[end, :].any():
                raise ValueError(
                    f"{name} counts event-to-event pairs only: its {SESSION_END!r} row and column must be zero"
                )
            object.__setattr__(self, name, centroid)

    @classmethod
    def from_kernels(cls, kernels: dict[str, Kernel]) -> Behaviour:
        """From ``{"human": T_H, "agent": T_A}`` (as :func:`kernels.estimate_by_class` returns)."""
        missing = [c for c in CLASSES if c not in kernels]
        if missing:
            raise ValueError(f"Behaviour needs a kernel for each class {list(CLASSES)}; missing {missing}")
        return cls(kernels["human"], kernels["agent"])

    @classmethod
    def from_trajectories(cls, trajectories: pd.DataFrame, smoothing: float = 0.0) -> Behaviour:
        """Estimate the event-level class kernels and centroids from a trajectory table."""
        return cls.from_kernels(estimate_by_class(trajectories, state="event", smoothing=smoothing))

    @classmethod
    def from_data(cls, source: str | None = None, unit: str = "experiment", smoothing: float = 0.0) -> Behaviour:
        """Estimate from WhoClickedIt: ``source`` as :func:`phantom_lib.data.whoclicked.resolve_source` takes
        it (default: ``$PHANTOM_WHOCLICKED``, else the shipped synthetic stand-in)."""
        from phantom_lib.data import whoclicked as data

        return cls.from_trajectories(data.trajectories(data.load_whoclicked(source), unit=unit), smoothing)

    @property
    def labels(self) -> tuple[str, ...]:
        """State names, length S."""
        return self.human.labels

    @property
    def n_states(self) -> int:
        """S, event states including ``session_end``."""
        return self.human.n_states

    @property
    def end(self) -> int:
        """Index of ``session_end``."""
        return self.human.end

    @property
    def stop(self) -> tuple[int, ...]:
        """Indices of states that end a session after being recorded (``checkout_start`` if present)."""
        return (self.labels.index(CHECKOUT),) if CHECKOUT in self.labels else ()

    @property
    def weights(self) -> FloatArray:
        """omega of each state, shape (S,) (``session_end`` is never recorded)."""
        return weights_of(self.labels)

    @property
    def matrices(self) -> FloatArray:
        """Both transition matrices, shape (2, S, S), class order :data:`CLASSES`."""
        return np.stack([self.human.matrix, self.agent.matrix])

    @property
    def pi0(self) -> FloatArray:
        """Both initial distributions, shape (2, S)."""
        return np.stack([self.human.pi0, self.agent.pi0])

    @property
    def centroids(self) -> FloatArray:
        """Both centroids, shape (2, S, S)."""
        return np.stack([self.human_centroid, self.agent_centroid])


@functools.lru_cache(maxsize=1)
def default_behaviour() -> Behaviour:
    """:meth:`Behaviour.from_data` of the configured source (the stand-in unless
    ``$PHANTOM_WHOCLICKED`` names the real file), estimated once per process."""
    return Behaviour.from_data()


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


def agents_in_split(n_sessions: int, alphas: npt.ArrayLike) -> IntArray:
    """n_A = floor(M * alpha) for each candidate share, shape like ``alphas``."""
    alphas = np.asarray(alphas, dtype=float)
    if alphas.size and not (alphas.min() >= 0 and alphas.max() <= 1):  # NaN fails both comparisons
        raise ValueError(f"agent shares alpha must lie in [0, 1]; got {alphas}")
    return np.floor(n_sessions * alphas + SPLIT_GUARD).astype(np.int64)


def session_classes(n_sessions: int, n_agents: IntArray) -> IntArray:
    """Class of each session per candidate, shape (K, M): the first n_A(k) sessions are agents (1)."""
    return (np.arange(n_sessions)[None, :] < np.asarray(n_agents)[:, None]).astype(np.int64)


def true_demand(xp: Any, z: Any, prices: Any, mu: Any, sd: Any, noise_std: Any) -> Any:
    """True demand per class from standard normal draws, normalised to sum 100 per class.

    Works with ``xp`` = numpy or jax.numpy so every backend shares the formula.

    Args:
        z: standard normal draws, shape (2, 2, N): ``z[0]`` valuations, ``z[1]`` noise, rows = class.
        prices: p, shape (N,) (price units).
        mu, sd: valuation mean and sd per class, shape (2,); noise_std: scalar.

    Returns:
        d, shape (2, N): d_Y = max(0, v - p + noise) scaled to sum 100 (all-zero rows stay zero).
    """
    valuation = mu[:, None] + sd[:, None] * z[0]
    raw = xp.maximum(0.0, valuation - prices[None, :] + noise_std * z[1])
    total = raw.sum(axis=1, keepdims=True)
    return 100.0 * raw / xp.where(total > 0, total, 1.0)


def demand_condition(xp: Any, demand: Any) -> Any:
    """c_Y = d_Y / sum(d_Y), uniform where a class's demand is all zero; shape (2, N)."""
    total = demand.sum(axis=1, keepdims=True)
    uniform = xp.ones_like(demand) / demand.shape[1]
    return xp.where(total > 0, demand / xp.where(total > 0, total, 1.0), uniform)


def normalised_proxy(xp: Any, q_hat: Any) -> Any:
    """q = 100 * q_hat / (sum_j q_hat_j + eps) along the last axis (MODEL.md section 1), any batch shape."""
    return 100.0 * (q_hat / (q_hat.sum(axis=-1, keepdims=True) + PROXY_EPS))  # <= 100 in float32 too


def search_cdf(xp: Any, probabilities: Any) -> Any:
    """CDF along the last axis with the last entry +inf, so that an inverse-CDF search
    ``(cdf <= u).sum()`` for u in [0, 1) never runs past the last state, whatever the rounding."""
    head = xp.cumsum(probabilities[..., :-1], axis=-1)
    return xp.concatenate([head, xp.full(probabilities.shape[:-1] + (1,), xp.inf)], axis=-1)


def step_agent_probability(
    paths: IntArray, behaviour: Behaviour, temperature: float
) -> FloatArray:
    """Per-candidate agent probability: mean f(s) over the sessions that can be scored.

    Args:
        paths: event paths, shape (K, M, L), ``-1`` after a session ends.
        behaviour: supplies the class centroids.
        temperature: T of the sigmoid.

    Returns:
        f, shape (K,): mean of f(s) = sigmoid(g(s)/T) over sessions with a finite gap (at least
        2 events and a source event the centroids observe); :data:`F_UNSCORED` if there is none.
    """
    k, m, length = paths.shape
    counts = kl.pair_counts(paths.reshape(k * m, length), behaviour.n_states)
    gap = kl.gaps(counts, behaviour.human_centroid, behaviour.agent_centroid).reshape(k, m)
    f = kl.agent_probability(gap, temperature)
    scored = np.isfinite(f)
    n_scored = scored.sum(axis=1)
    total = np.where(scored, f, 0.0).sum(axis=1)
    return np.divide(total, n_scored, out=np.full(k, F_UNSCORED), where=n_scored > 0)


@dataclass(frozen=True)
class MarketSample:
    """One market draw for K candidate shares at the same prices.

    Attributes:
        q: demand proxy per candidate, shape (K, N), each row sums to 100 (0 if no event).
        f: step agent probability per candidate, shape (K,).
        demand: true demand per class (shared by the candidates), shape (2, N), rows sum to 100.
        n_states: session states sampled per candidate, shape (K,) (the work done).
    """

    q: FloatArray
    f: FloatArray
    demand: FloatArray
    n_states: IntArray


class Sampler(ABC):
    """A market backend: samples all K candidates of a robust step for given prices.

    Subclasses set :attr:`name` and implement :meth:`sample`; they compute the same model
    and differ only in how (see ``phantom_lib.sim.samplers``).
    """

    name: ClassVar[str]

    def __init__(self, behaviour: Behaviour, config: MarketConfig) -> None:
        self.behaviour = behaviour
        self.config = config

    @abstractmethod
    def sample(self, prices: FloatArray, alphas: Sequence[float] | FloatArray, rng: np.random.Generator) -> MarketSample:
        """Draw true demand once, then M sessions for each candidate share in ``alphas`` (K,).

        Args:
            prices: p, shape (N,) (price units).
            alphas: candidate agent shares, shape (K,), each in [0, 1].
            rng: the caller's seeded generator (the only source of randomness).
        """

    def _draw_demand(self, prices: FloatArray, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """True demand (2, N), drawn once per market step, and its demand condition c (2, N)."""
        cfg = self.config
        demand = true_demand(np, rng.standard_normal((2, 2, cfg.n_products)), prices, cfg.mu, cfg.sd, cfg.noise_std)
        return demand, demand_condition(np, demand)

    def _check_prices(self, prices: npt.ArrayLike) -> FloatArray:
        prices = np.asarray(prices, dtype=float)
        if prices.shape != (self.config.n_products,):
            raise ValueError(f"prices must have shape ({self.config.n_products},) (N); got {prices.shape}")
        return prices
