"""The stand-in's generative model: its two behaviour kernels, its calibration targets and its configuration.

:mod:`phantom_lib.standin.rows` writes rows from this model. Here: the eight card events, the
card's totals per class, store and time range (:data:`CLASS_TOTALS`, :data:`STORE_ROWS`,
:data:`START`, :data:`END`), the two generating kernels (:data:`HUMAN`, :data:`AGENT`; rows =
current event, columns = next event), :class:`StandinConfig`, and the split of the card's event
totals into per-class targets (:func:`event_split`, iterative proportional fitting).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._validation import (
    Integer,
    Validated,
    check,
    integer,
    real,
    relation,
)
from phantom_lib.behaviour import kernels
from phantom_lib.data import events
from phantom_lib.published import DATA_CARD

EVENTS = (
    "page_view", "view_item_page", "learn_more_about_item", "hover_over_title",
    "hover_over_paragraph", "add_item_to_cart", "remove_item", "checkout_start",
)
"""The eight interaction names of the card, in the kernels' state order."""
PV, VI, LM, HT, HP, ADD, RM, CO = range(len(EVENTS))
ADMIN = -1
"""Code of an operator page view on an ``/admin/`` page (not behaviour; no kernel state)."""

START = pd.Timestamp("2025-12-05T09:43:31.301Z")
END = pd.Timestamp("2026-02-28T19:32:06.444Z")
"""First and last timestamp of the stand-in (the card's range, with milliseconds)."""

CLASS_TOTALS = {
    "human": {"experiments": 13, "sessions": 25, "interaction": 310, "price_log": 452},
    "agent": {"experiments": 16, "sessions": 7, "interaction": 197, "price_log": 2879},
}
"""Per-actor counts of the card (multiplied by ``StandinConfig.scale``)."""

STORE_EXPERIMENTS = {
    "human": {"hotel": 11, "airline": 1, "shop": 1},
    "agent": {"hotel": 14, "airline": 2},
}
"""Experiments per store and actor (our choice; with the price logs it fixes the store rows)."""

STORE_ROWS = {"hotel": 3592, "airline": 196, "shop": 50}
DEMAND_WINDOW_MS = 24 * 3600 * 1000
"""Price rule: omega-weighted events on a product in the last 24 h give its demand q_hat."""
RHO_LOW, RHO_HIGH = 0.0, 6.0
"""Price rule thresholds: no demand in the window -> discount, q_hat >= 6 -> surge."""


@dataclass(frozen=True)
class BehaviourKernel:
    """A class's generating process.

    Attributes:
        matrix: (8, 8) transition probabilities over :data:`EVENTS`, rows = current event.
        pi0: (8,) first-event distribution.
        gap_median_s: (8,) median seconds from an event (by its type) to the next.
        gap_sigma: log-normal shape of those gaps (larger = burstier).
        dwell_median_ms, dwell_sigma: log-normal hover dwell (``metadata_dwellTime``, ms).
        price_weight: (8,) relative number of price quotes logged with each event type.
        min_length: fewest events in an experiment.
        length_concentration: Dirichlet concentration of experiment lengths (larger = more equal).
        new_chunk_gap_median_s, new_chunk_gap_sigma: pause before a new session (humans) or
            a new experiment in the same session (agents), log-normal.
    """

    matrix: npt.NDArray[np.float64]
    pi0: npt.NDArray[np.float64]
    gap_median_s: npt.NDArray[np.float64]
    gap_sigma: float
    dwell_median_ms: float
    dwell_sigma: float
    price_weight: npt.NDArray[np.float64]
    min_length: int
    length_concentration: float
    new_chunk_gap_median_s: float
    new_chunk_gap_sigma: float

    def __post_init__(self) -> None:
        e = len(EVENTS)
        for name in ("matrix", "pi0", "gap_median_s", "price_weight"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=float))
        labels = (*EVENTS, events.SESSION_END)
        padded = np.zeros((e + 1, e + 1))
        padded[:e, :e] = self.matrix
        padded[e, e] = 1.0
        kernels.validate(labels, padded, np.append(self.pi0, 0.0))
        owner = "BehaviourKernel"
        check(
            owner,
            relation(
                owner,
                "gap_median_s",
                self.gap_median_s,
                self.gap_median_s.shape == (e,) and bool(np.all(self.gap_median_s > 0)),
                f"{e} positive numbers of seconds",
            ),
            relation(
                owner,
                "price_weight",
                self.price_weight,
                self.price_weight.shape == (e,) and bool(np.all(self.price_weight >= 0)),
                f"{e} non-negative weights",
            ),
            integer(owner, "min_length", self.min_length, low=1),
            real(owner, "length_concentration", self.length_concentration, low=0, low_open=True),
        )

    def to_frame(self) -> pd.DataFrame:
        """The transition matrix as a labelled table (index = current event)."""
        return pd.DataFrame(self.matrix, index=list(EVENTS), columns=list(EVENTS))


AGENT = BehaviourKernel(
    matrix=[
        # PV    VI    LM    HT    HP    ADD   RM    CO
        [0.20, 0.50, 0.15, 0.02, 0.00, 0.08, 0.00, 0.05],  # page_view
        [0.15, 0.12, 0.56, 0.01, 0.00, 0.12, 0.00, 0.04],  # view_item_page
        [0.30, 0.20, 0.15, 0.01, 0.00, 0.26, 0.01, 0.07],  # learn_more_about_item
        [0.20, 0.40, 0.30, 0.00, 0.00, 0.10, 0.00, 0.00],  # hover_over_title
        [0.20, 0.40, 0.30, 0.00, 0.00, 0.10, 0.00, 0.00],  # hover_over_paragraph
        [0.48, 0.20, 0.07, 0.00, 0.00, 0.05, 0.03, 0.17],  # add_item_to_cart
        [0.40, 0.30, 0.00, 0.00, 0.00, 0.20, 0.00, 0.10],  # remove_item
        [0.60, 0.30, 0.10, 0.00, 0.00, 0.00, 0.00, 0.00],  # checkout_start
    ],
    pi0=[0.55, 0.45, 0, 0, 0, 0, 0, 0],
    gap_median_s=[2.4, 2.8, 2.6, 1.6, 1.6, 2.2, 2.0, 3.0],
    gap_sigma=0.3,
    dwell_median_ms=150.0,
    dwell_sigma=0.35,
    price_weight=[10, 8, 4, 1, 1, 2, 1, 2],
    min_length=4,
    length_concentration=6.0,
    new_chunk_gap_median_s=25.0,
    new_chunk_gap_sigma=0.4,
)
"""Agents: fast and regular, deep-link to items, walk listing -> item -> details -> cart."""

HUMAN = BehaviourKernel(
    matrix=[
        # PV    VI    LM    HT    HP    ADD   RM    CO
        [0.52, 0.19, 0.07, 0.10, 0.02, 0.06, 0.01, 0.03],  # page_view
        [0.52, 0.04, 0.22, 0.07, 0.03, 0.09, 0.00, 0.03],  # view_item_page
        [0.48, 0.05, 0.10, 0.08, 0.03, 0.21, 0.00, 0.05],  # learn_more_about_item
        [0.45, 0.24, 0.16, 0.04, 0.04, 0.07, 0.00, 0.00],  # hover_over_title
        [0.42, 0.16, 0.22, 0.08, 0.03, 0.09, 0.00, 0.00],  # hover_over_paragraph
        [0.62, 0.10, 0.05, 0.05, 0.00, 0.05, 0.04, 0.09],  # add_item_to_cart
        [0.50, 0.20, 0.00, 0.00, 0.00, 0.20, 0.00, 0.10],  # remove_item
        [0.80, 0.10, 0.05, 0.05, 0.00, 0.00, 0.00, 0.00],  # checkout_start
    ],
    pi0=[0.92, 0.08, 0, 0, 0, 0, 0, 0],
    gap_median_s=[7.0, 16.0, 20.0, 4.0, 6.0, 6.0, 5.0, 12.0],
    gap_sigma=0.85,
    dwell_median_ms=1800.0,
    dwell_sigma=0.6,
    price_weight=[3, 1, 0.3, 0.1, 0.1, 0.5, 0.2, 0.5],
    min_length=6,
    length_concentration=3.0,
    new_chunk_gap_median_s=180.0,
    new_chunk_gap_sigma=0.8,
)
"""Humans: slower and bursty, hover and read, return to the listing after most item pages."""

KERNELS = {"human": HUMAN, "agent": AGENT}


@dataclass(frozen=True)
class StandinConfig(Validated):
    """What to generate.

    Attributes:
        seed: seed of the one ``numpy.random.Generator`` behind every draw.
        scale: multiplies every published count (1 = the data card; 100 = a benchmark file).
        admin_views: operator page views on ``/admin/`` pages per card-sized data set (part of
            the human page views; dropped from trajectories by the loader).
    """

    seed: int = 0
    scale: int = 1
    admin_views: int = 4

    _parameter_constraints = {
        "seed": (Integer(low=0),),
        "scale": (Integer(low=1),),
        "admin_views": (Integer(low=0, high=CLASS_TOTALS["human"]["experiments"]),),
    }


# --------------------------------------------------------------------------- counts


def apportion(weights: npt.ArrayLike, total: int, cap: npt.ArrayLike | None = None) -> npt.NDArray[np.int64]:
    """Integers proportional to ``weights`` summing to ``total`` (largest remainder), each <= ``cap``."""
    w = np.asarray(weights, dtype=float)
    limit = np.full(w.shape, total, dtype=np.int64) if cap is None else np.asarray(cap, dtype=np.int64)
    if total > limit.sum():
        raise ValueError(f"cannot place {total} units under caps summing to {limit.sum()}")
    exact = w * total / w.sum() if w.sum() > 0 else np.zeros_like(w)
    counts = np.minimum(np.floor(exact).astype(np.int64), limit)
    order = np.argsort(-(exact - counts), kind="stable")
    while counts.sum() < total:
        for i in order:
            if counts.sum() == total:
                break
            if counts[i] < limit[i]:
                counts[i] += 1
    return counts


def _expected_mix(kernel: BehaviourKernel, length: int) -> npt.NDArray[np.float64]:
    """Expected share of each event in a ``length``-event path of ``kernel``."""
    visits, state = np.zeros(len(EVENTS)), kernel.pi0.copy()
    for _ in range(length):
        visits += state
        state = state @ kernel.matrix
    return visits / visits.sum()


def event_split(config: StandinConfig = StandinConfig()) -> dict[str, npt.NDArray[np.int64]]:
    """Behavioural (non-admin) events per class and type, shape (8,) each, summing to the card.

    Each kernel's expected mix (at its class's mean experiment length) is scaled by
    iterative proportional fitting to the class totals (interactions, minus the admin views
    for humans) and the card's event totals, then rounded by largest remainder.
    """
    s = config.scale
    columns = np.array([DATA_CARD[f"event/{e}"] for e in EVENTS], dtype=np.int64) * s
    columns[PV] -= config.admin_views * s
    rows = np.array(
        [CLASS_TOTALS["human"]["interaction"] * s - config.admin_views * s, CLASS_TOTALS["agent"]["interaction"] * s]
    )
    table = np.vstack(
        [_expected_mix(KERNELS[c], _mean_length(c, config)) * r for c, r in zip(("human", "agent"), rows)]
    )
    for _ in range(1000):
        table *= (rows / table.sum(axis=1))[:, None]
        table *= columns / np.maximum(table.sum(axis=0), 1e-300)
    agent = apportion(table[1], int(rows[1]), cap=columns)
    return {"human": columns - agent, "agent": agent}


def _mean_length(actor: str, config: StandinConfig) -> int:
    behaviour = CLASS_TOTALS[actor]["interaction"] - (config.admin_views if actor == "human" else 0)
    return round(behaviour / CLASS_TOTALS[actor]["experiments"])


def generating_kernels(config: StandinConfig = StandinConfig()) -> dict[str, BehaviourKernel]:
    """The kernels actually sampled: :data:`KERNELS` tilted to the card's event mix.

    Columns are reweighted, ``T'[i, j] = T[i, j] w_j / sum_k T[i, k] w_k``, with ``w`` found
    by fixed-point iteration so that the expected mix of a mean-length experiment equals the
    class's share of :func:`event_split`. Zeros and each row's relative preferences among the
    remaining events are kept; the few events by which a sample still misses the counts are
    left to :func:`_repair`.
    """
    split = event_split(config)
    tilted = {}
    for actor, kernel in KERNELS.items():
        target = split[actor] / split[actor].sum()
        length = _mean_length(actor, config)
        weights = np.ones(len(EVENTS))
        for _ in range(2000):
            matrix = kernel.matrix * weights
            matrix /= matrix.sum(axis=1, keepdims=True)
            mix = _expected_mix(replace(kernel, matrix=matrix), length)
            if np.abs(mix - target).max() < 1e-12:
                break
            weights *= np.sqrt(np.divide(target, mix, out=np.ones_like(mix), where=mix > 0))
        tilted[actor] = replace(kernel, matrix=matrix)
    return tilted


# --------------------------------------------------------------------------- trajectories
