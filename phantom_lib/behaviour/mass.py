"""Expected demand-proxy mass of a session, and the revenue line it implies (Model reference, section 10).

Under the un-normalised proxy (``proxy = "mass"``), a market step's proxy q sums, over the step's M
sessions divided by M, the weight omega(e) of every recorded state at its product. Its expected
total is therefore the mixture of the classes' expected session masses,

    E[sum(q)] = (1 - alpha) m_H + alpha m_A,

where m_Y = E[sum over the recorded states of a class-Y session of omega(e)]. A session of the
simulator (section 5) starts at an event drawn from pi0_Y, records states until it reaches
``session_end`` (absorbing, not recorded) or records a stop state (``checkout_start``, recorded,
then the session ends), or has recorded L_max states. :func:`session_mass` computes m_Y exactly
from the chain by propagating the distribution of the state at each position (a finite sum over
L_max positions, no simulation): with v_0 = pi0 without ``session_end`` and
v_{t+1} = (v_t restricted to non-stop states) T_Y without ``session_end``,

    m_Y = sum_{t < L_max} v_t . omega,    E[states] = sum_{t < L_max} v_t . 1.

The same propagation gives the probability that a session is absorbed at a stop state (it records
``checkout_start`` before ``session_end`` and before L_max states), beta_Y = sum_{t < L_max} v_t[stop]:
a stop state is recorded at most once, so these events are disjoint. In the market that pays for sales
(Model reference, section 12) a visiting session absorbed at checkout buys one unit, so beta_Y is the
purchase probability of a visiting class-Y session.

Products do not enter m_Y: every state's product is drawn from the class's demand condition c_Y
(section 3), so E[q_i] = sum_Y share_Y m_Y c_Y[i] and, at a fixed price vector p,

    E[revenue per step] = sum_Y share_Y m_Y (p . c_Y),

which is p_bar_q ((1 - alpha) m_H + alpha m_A) when both classes share one condition c (for
instance when every price exceeds every valuation, all true demand is zero and c is uniform, so
p_bar_q is the plain mean price): :func:`predicted_revenue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._arrays import FloatArray
from phantom_lib.behaviour.kernels import Kernel, demand_condition
from phantom_lib.behaviour.model import CLASSES, Behaviour
from phantom_lib.data.events import CHECKOUT, weights_of

MAX_LEN = 40
"""L_max, the most states a simulated session records (Model reference, section 5)."""


@dataclass(frozen=True)
class SessionMass:
    """Expected proxy mass and length of one class's sessions.

    Attributes:
        mass: m_Y, expected omega-weighted count of the recorded states of a session (omega units).
        states: expected number of recorded states of a session.
        max_len: the cap L_max the expectation was taken under.
        checkout: beta_Y, the probability that a session records a stop state (``checkout_start``),
            i.e. is absorbed at checkout before ``session_end`` and L_max (0 without stop states).
    """

    mass: float
    states: float
    max_len: int
    checkout: float


def session_mass(kernel: Kernel, max_len: int = MAX_LEN, stop: Sequence[str] = (CHECKOUT,)) -> SessionMass:
    """m_Y of a kernel's sessions under the simulator's stop rule, exactly (no simulation).

    Args:
        kernel: the class's event kernel (rows = source) with its pi0; state weights omega come from
            the event names (:func:`phantom_lib.data.events.weights_of`).
        max_len: L_max >= 1, the most states a session records.
        stop: event labels that are recorded and then end the session; labels the kernel lacks are
            ignored (they are never reached).

    Returns:
        the expected mass and number of recorded states per session, and beta_Y, the probability
        that it is absorbed at a stop state.
    """
    if isinstance(max_len, bool) or not isinstance(max_len, int | np.integer) or max_len < 1:
        raise ValueError(f"max_len (L_max) must be an integer >= 1; got {max_len!r}")
    weights = weights_of(kernel.labels)
    goes_on = np.ones(kernel.n_states)
    goes_on[[kernel.index(label) for label in stop if label in kernel.labels]] = 0.0
    occupancy = kernel.pi0.copy()
    mass = states = checkout = 0.0
    for _ in range(int(max_len)):
        occupancy[kernel.end] = 0.0
        mass += float(occupancy @ weights)
        states += float(occupancy.sum())
        checkout += float(occupancy @ (1.0 - goes_on))
        occupancy = (occupancy * goes_on) @ kernel.matrix
    return SessionMass(mass, states, int(max_len), checkout)


def class_masses(behaviour: Behaviour, max_len: int = MAX_LEN) -> pd.DataFrame:
    """m_Y and expected recorded states per class of a market's behaviour.

    Returns:
        a frame indexed by class (``human``, ``agent``) with columns ``mass`` (m_Y, omega units),
        ``states`` (expected recorded states per session) and ``checkout`` (beta_Y, the probability
        that a session is absorbed at checkout: it buys, if it visits, in the market of section 12).
    """
    stop = [behaviour.labels[i] for i in behaviour.stop]
    rows = {cls: session_mass(getattr(behaviour, cls), max_len, stop) for cls in CLASSES}
    table = {cls: {"mass": r.mass, "states": r.states, "checkout": r.checkout} for cls, r in rows.items()}
    return pd.DataFrame(table).T.rename_axis("class")


def mixture_mass(alpha: npt.ArrayLike, human: float, agent: float) -> FloatArray:
    """Expected proxy mass of a step per session, (1 - alpha) m_H + alpha m_A, shape like ``alpha``.

    ``alpha`` is the agent share in [0, 1] (a continuous share: a market of M sessions splits them
    as floor(M alpha) agents, which equals alpha M whenever alpha M is a whole number).
    """
    a = np.asarray(alpha, dtype=float)
    if not (np.all(np.isfinite(a)) and np.all((a >= 0) & (a <= 1))):
        raise ValueError(f"agent shares alpha must lie in [0, 1]; got {a}")
    return (1.0 - a) * human + a * agent


def predicted_revenue(
    prices: npt.ArrayLike,
    alpha: npt.ArrayLike,
    human: float,
    agent: float,
    demand: npt.ArrayLike | None = None,
) -> FloatArray:
    """E[revenue per step] = sum_Y share_Y m_Y (p . c_Y) under the mass proxy at fixed prices.

    Args:
        prices: p, shape (N,), price units.
        alpha: agent share(s) in [0, 1], any shape.
        human, agent: m_H and m_A (:func:`session_mass`).
        demand: true demand per class, shape (2, N) (human, agent; any scale), turned into the
            demand conditions c_Y (uniform where a class's demand is all zero); ``None``: all demand
            zero, so both conditions are uniform and the result is mean(p) ((1 - alpha) m_H + alpha m_A).

    Returns:
        expected revenue per market step, shape like ``alpha`` (price units x omega units).
    """
    p = np.asarray(prices, dtype=float)
    if p.ndim != 1 or p.size == 0 or not np.all(np.isfinite(p)):
        raise ValueError(f"prices must be a non-empty 1-D array of finite numbers; got shape {p.shape}")
    d = np.zeros((2, p.size)) if demand is None else np.asarray(demand, dtype=float)
    if d.shape != (2, p.size) or not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError(f"demand must be finite, non-negative, shape (2, {p.size}) (human, agent); got shape "
                         f"{d.shape}")
    p_bar = demand_condition(d) @ p
    return mixture_mass(alpha, human * p_bar[0], agent * p_bar[1])
