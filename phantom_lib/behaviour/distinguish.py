"""Distinguishability of human and agent sessions by KL divergence (Model reference, section 4).

Array-level core shared by the cohort analysis and the simulator. A session is an integer
path over E event states (``-1`` pads after its end). Its own kernel T_s is the MLE of its
consecutive event-to-event pairs; a class centroid T_Y is the MLE of the pooled pairs of the
class. By default only event-to-event pairs count (no move to ``session_end``), for sessions and
centroids alike, so a session needs at least 2 events to be scored; the simulator's f is scored
this way. :class:`ScoreConfig` ``end_transition=True`` also counts each trajectory's move from its
last event into ``session_end`` (as the MLE kernels of :mod:`phantom_lib.behaviour.kernels` do),
so how a session ends becomes evidence too; the set of trajectories scored stays the same (at
least 2 events), only what their kernels count changes.

Delta_Y(s) = mean over source events observed in both T_s and T_Y of KL(T_s[e] || T_Y[e]), with
KL(P||Q) = sum over k in P's support of (p_k + eps) log((p_k + eps) / (q_k + eps)).
Gap g(s) = Delta_H(s) - Delta_A(s) (negative = human-like); weak agent probability
f(s) = sigmoid(g(s) / T).

Centroids are leave-one-out by default (a session's own pairs are removed from its class's pool,
erratum 5) or in-sample (:func:`class_centroids`); every array function accepts leading batch
axes, so many simulated cohorts are scored at once. Over the trajectory table of
:func:`phantom_lib.data.trajectories`, :func:`score_table` encodes the events once, counts the
pairs of every trajectory with one ``bincount`` and returns a frame of per-trajectory scores,
with the trajectories it could not score listed by reason; :func:`transition_contributions`
splits the gaps over transitions. The cohort statistics are in :mod:`phantom_lib.behaviour.separation`, the
power analysis in :mod:`phantom_lib.behaviour.power`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._arrays import FloatArray
from phantom_lib._validation import (
    Boolean,
    Real,
    Text,
    Validated,
)
from phantom_lib.behaviour.kl import (
    EPS,
    agent_probability,
    count_pairs,
    divergence,
    gaps,
    kl_terms,
    pair_counts,
)
from phantom_lib.data.events import SESSION_END

__all__ = ["EPS", "agent_probability", "divergence", "gaps", "kl_terms", "pair_counts"]


def class_centroids(
    counts: FloatArray, is_agent: npt.ArrayLike, loo: bool = True
) -> tuple[FloatArray, FloatArray]:
    """Human and agent centroid counts for scoring each session.

    Args:
        counts: (..., n, E, E) pair counts of the sessions of one cohort (leading axes = batch
            of independent cohorts).
        is_agent: (..., n) class of each session (truthy = agent).
        loo: leave-one-out: a session's own counts are subtracted from its class's pooled
            counts, so it never votes for its own class (erratum 5). ``False``: the original
            in-sample centroids, the same for every session.

    Returns:
        ``(human, agent)``, each (..., n, E, E) with ``loo`` or (..., 1, E, E) without.
    """
    agent_mask = np.asarray(is_agent, dtype=bool)[..., None, None]
    agent_own = np.where(agent_mask, counts, 0.0)
    human_own = counts - agent_own
    agent = agent_own.sum(axis=-3, keepdims=True)
    human = human_own.sum(axis=-3, keepdims=True)
    if loo:
        return human - human_own, agent - agent_own
    return human, agent


def class_gaps(
    counts: FloatArray, is_agent: npt.ArrayLike, loo: bool = True, eps: float = EPS
) -> tuple[FloatArray, FloatArray]:
    """``(Delta_H, Delta_A)`` of every session against its cohort's class centroids.

    ``counts`` (..., n, E, E) and ``is_agent`` (..., n) as in :func:`class_centroids`; both
    results have shape (..., n), in nats, NaN where a divergence is undefined.
    """
    human, agent = class_centroids(counts, is_agent, loo)
    return divergence(counts, human, eps), divergence(counts, agent, eps)


# --------------------------------------------------------------------------------------------
# The trajectory table (phantom_lib.data.trajectories): one row per event.

CLASSES = ("human", "agent")
"""Values of the ``actor`` column; ``is_agent`` is 1 for ``"agent"``."""

MIN_EVENTS = 2
"""A trajectory needs this many events (one event-to-event pair) to have a kernel."""

SHORT = "fewer than 2 events"
UNSHARED = "no source event shared with a class centroid"
"""Reasons a trajectory is excluded from scoring (column ``reason`` of :attr:`Scores.excluded`)."""


@dataclass(frozen=True)
class ScoreConfig(Validated):
    """How trajectories are scored.

    Attributes:
        loo: leave-one-out centroids (default, erratum 5); ``False`` = the original in-sample ones.
        temperature: T > 0 of f = sigmoid(g / T), in nats.
        eps: KL smoothing constant (> 0).
        state: column of the trajectory table that holds the state (``"event"``).
        end_transition: also count each trajectory's move from its last event into
            ``session_end`` (default ``False``: event-to-event pairs only, as the simulator's f).
    """

    loo: bool = True
    temperature: float = 1.0
    eps: float = EPS
    state: str = "event"
    end_transition: bool = False

    _parameter_constraints = {
        "loo": (Boolean(),),
        "temperature": (Real(low=0, low_open=True),),
        "eps": (Real(low=0, low_open=True),),
        "state": (Text("the name of a column of the trajectory table, e.g. 'event'"),),
        "end_transition": (Boolean(),),
    }


@dataclass(frozen=True)
class Scores:
    """Per-trajectory scores of one cohort.

    Attributes:
        frame: one row per scored trajectory: ``trajectory``, ``actor``, ``is_agent``,
            ``n_events``, ``delta_h``, ``delta_a`` (nats), ``gap`` = delta_h - delta_a (nats),
            ``f`` = sigmoid(gap / T).
        excluded: trajectories not scored: ``trajectory``, ``actor``, ``n_events``, ``reason``
            (:data:`SHORT` or :data:`UNSHARED`).
        labels: the E states, in the order of the count axes.
        counts: (n, E, E) pair counts of the scored trajectories (rows of ``frame``).
        human_centroid, agent_centroid: the centroid counts each scored trajectory was compared
            with, (n, E, E) (leave-one-out) or (1, E, E).
        config: the scoring configuration.
    """

    frame: pd.DataFrame
    excluded: pd.DataFrame
    labels: tuple[str, ...]
    counts: FloatArray
    human_centroid: FloatArray
    agent_centroid: FloatArray
    config: ScoreConfig

    @property
    def n_excluded(self) -> dict[str, int]:
        """Number of excluded trajectories per reason (both reasons always present)."""
        reasons = self.excluded["reason"].value_counts()
        return {reason: int(reasons.get(reason, 0)) for reason in (SHORT, UNSHARED)}


def _check_table(table: pd.DataFrame, state: str) -> None:
    needed = ["trajectory", "step", "actor", state]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise KeyError(
            f"trajectory table lacks column(s) {missing} (needs {needed}); "
            "build it with phantom_lib.data.trajectories()"
        )
    for column in ("trajectory", "actor", state):
        if table[column].isna().any():
            raise ValueError(f"trajectory table column {column!r} has {int(table[column].isna().sum())} missing values")
    bad = sorted(set(table["actor"].astype(str)) - set(CLASSES))
    if bad:
        raise ValueError(f"trajectory table column 'actor' must hold 'human' or 'agent'; found {bad[:5]}")


def encode(
    table: pd.DataFrame, state: str = "event", end_transition: bool = False
) -> tuple[pd.DataFrame, tuple[str, ...], FloatArray]:
    """Per-trajectory pair counts of a trajectory table, vectorised over all its rows.

    Args:
        table: trajectory table (columns ``trajectory``, ``step``, ``actor`` and ``state``).
        state: the state column.
        end_transition: also count each trajectory's last event -> ``session_end`` (a state then
            added after the observed ones, or reused if the table already holds it).

    Returns:
        ``(info, labels, counts)``: one row per trajectory (sorted by id) with ``trajectory``,
        ``actor``, ``is_agent``, ``n_events``; the E states (sorted; ``session_end`` last when
        added); counts (n, E, E).
    """
    _check_table(table, state)
    ordered = table.sort_values(["trajectory", "step"], kind="stable")
    traj, ids = pd.factorize(ordered["trajectory"].astype(str), sort=True)
    codes, labels = pd.factorize(ordered[state].astype(str), sort=True)
    actor = ordered["actor"].astype(str).to_numpy()
    n, n_events = len(ids), len(labels)
    lengths = np.bincount(traj, minlength=n)
    first = np.cumsum(lengths) - lengths
    mixed = actor != actor[first][traj]
    if mixed.any():
        bad = sorted(set(ids[traj[mixed]]))
        raise ValueError(f"trajectories {bad[:5]} carry more than one actor; each trajectory must have one class")
    same = traj[1:] == traj[:-1]
    rows, src, dst = traj[1:][same], codes[:-1][same], codes[1:][same]
    labels = [str(label) for label in labels]
    if end_transition:
        if SESSION_END not in labels:
            labels.append(SESSION_END)
        last = first + lengths - 1  # row of each trajectory's last event
        rows, src = np.concatenate([rows, np.arange(n)]), np.concatenate([src, codes[last]])
        dst = np.concatenate([dst, np.full(n, labels.index(SESSION_END))])
        n_events = len(labels)
    counts = count_pairs(rows, src, dst, n, n_events)
    info = pd.DataFrame(
        {
            "trajectory": np.asarray(ids, dtype=object).astype(str),
            "actor": actor[first],
            "n_events": lengths,
        }
    )
    info.insert(2, "is_agent", (info["actor"] == "agent").astype(int))
    return info, tuple(labels), counts


def score_table(table: pd.DataFrame, config: ScoreConfig | None = None) -> Scores:
    """Score every trajectory of a table by its KL gap to the human and agent centroids.

    Trajectories with fewer than 2 events, and those that share no observed source event
    with one of their centroids, are excluded and listed with the reason in
    :attr:`Scores.excluded`. Centroids pool all trajectories of a class (leave-one-out by
    default).
    """
    config = config or ScoreConfig()
    info, labels, counts = encode(table, config.state, config.end_transition)
    present = set(info["actor"])
    if present != set(CLASSES):
        raise ValueError(f"scoring needs trajectories of both classes {CLASSES}; the table holds only "
                         f"{sorted(present)}")
    is_agent = info["is_agent"].to_numpy(dtype=bool)
    human, agent = class_centroids(counts, is_agent, config.loo)
    delta_h, delta_a = divergence(counts, human, config.eps), divergence(counts, agent, config.eps)
    gap = delta_h - delta_a
    short = info["n_events"].to_numpy() < MIN_EVENTS
    scored = ~short & np.isfinite(gap)
    frame = (
        info[scored]
        .assign(
            delta_h=delta_h[scored],
            delta_a=delta_a[scored],
            gap=gap[scored],
            f=agent_probability(gap[scored], config.temperature),
        )
        .reset_index(drop=True)
    )
    excluded = (
        info.loc[~scored, ["trajectory", "actor", "n_events"]]
        .assign(reason=np.where(short[~scored], SHORT, UNSHARED))
        .reset_index(drop=True)
    )

    def rows(centroid: FloatArray) -> FloatArray:
        return centroid[scored] if config.loo else centroid

    return Scores(frame, excluded, labels, counts[scored], rows(human), rows(agent), config)


def class_divergence(table: pd.DataFrame, config: ScoreConfig | None = None) -> dict[str, float]:
    """Mean KL between the two class centroids over the source events both observe, in nats:
    ``{"human_vs_agent": mean_e KL(T_H[e] || T_A[e]), "agent_vs_human": mean_e KL(T_A[e] || T_H[e])}``
    (all trajectories of the table pooled per class; event-to-event pairs, plus the moves into
    ``session_end`` with ``config.end_transition``)."""
    config = config or ScoreConfig()
    info, _, counts = encode(table, config.state, config.end_transition)
    is_agent = info["is_agent"].to_numpy(dtype=bool)
    human, agent = counts[~is_agent].sum(axis=0), counts[is_agent].sum(axis=0)
    return {
        "human_vs_agent": float(divergence(human[None], agent, config.eps)[0]),
        "agent_vs_human": float(divergence(agent[None], human, config.eps)[0]),
    }


def transition_contributions(scores: Scores) -> pd.DataFrame:
    """Which transitions carry the gap: each (source, destination) pair's share of g.

    The gap of a trajectory splits exactly over transitions: g = sum over (e, k) of
    ``c_H(e, k) - c_A(e, k)``, with ``c_Y(e, k)`` = the KL summand of (e, k) against centroid Y
    divided by the number of source events the trajectory shares with Y (0 if e is not shared).

    Returns:
        One row per transition observed in some scored trajectory: ``source``, ``destination``,
        ``human`` and ``agent`` (mean contribution over the class's trajectories, nats),
        ``separation`` = agent - human (the transitions' shares of the difference of mean gaps;
        they sum to it), sorted by ``|separation|``, largest first.
    """
    cfg = scores.config

    def share(centroid: FloatArray) -> FloatArray:
        terms, shared = kl_terms(scores.counts, centroid, cfg.eps)
        n_shared = shared.sum(axis=-1)[:, None, None]
        return np.where(shared[..., None], terms, 0.0) / np.maximum(n_shared, 1)

    per_traj = share(scores.human_centroid) - share(scores.agent_centroid)  # (n, E, E)
    is_agent = scores.frame["is_agent"].to_numpy(dtype=bool)
    human = per_traj[~is_agent].mean(axis=0)
    agent = per_traj[is_agent].mean(axis=0)
    src, dst = np.nonzero(scores.counts.sum(axis=0))
    labels = np.asarray(scores.labels, dtype=object)
    out = pd.DataFrame(
        {
            "source": labels[src].astype(str),
            "destination": labels[dst].astype(str),
            "human": human[src, dst],
            "agent": agent[src, dst],
        }
    )
    out["separation"] = out["agent"] - out["human"]
    return out.sort_values("separation", key=np.abs, ascending=False, kind="stable").reset_index(drop=True)


def paths_table(paths: npt.NDArray[np.int64], labels: Sequence[str], actor: str, prefix: str = "") -> pd.DataFrame:
    """A minimal trajectory table (``trajectory``, ``actor``, ``is_agent``, ``step``, ``event``)
    from sampled paths (n, L) of state indices into ``labels``, ``-1`` padded. Trajectory ids
    are ``f"{prefix}{actor}-{i}"``."""
    if actor not in CLASSES:
        raise ValueError(f"actor must be one of {CLASSES}; got {actor!r}")
    paths = np.asarray(paths, dtype=np.int64)
    row, step = np.nonzero(paths >= 0)
    names = np.asarray(labels, dtype=object)
    return pd.DataFrame(
        {
            "trajectory": np.char.add(f"{prefix}{actor}-", row.astype(str)),
            "actor": actor,
            "is_agent": int(actor == "agent"),
            "step": step,
            "event": names[paths[row, step]].astype(str),
        }
    )
