"""KL divergence between session kernels and class centroids: the array-level core (Model reference, section 4).

A session is an integer path over E event states (``-1`` pads after its end). Its own kernel T_s
is the MLE of its consecutive event-to-event pairs; a centroid is the MLE of pooled pairs. Only
event-to-event pairs count (no move to ``session_end``), so a session needs at least 2 events.

Delta_Y(s) = mean over source events observed in both T_s and T_Y of KL(T_s[e] || T_Y[e]), with
KL(P||Q) = sum over k in P's support of (p_k + eps) log((p_k + eps) / (q_k + eps)).
Gap g(s) = Delta_H(s) - Delta_A(s) (negative = human-like); f(s) = sigmoid(g(s) / T).

This module depends on numpy only, so kernels, distinguishability and the simulator all build on
it; :mod:`phantom_lib.behaviour.distinguish` re-exports these names.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from phantom_lib._arrays import FloatArray

EPS = 1e-10
"""Smoothing constant of the KL divergence."""



def pair_counts(paths: npt.NDArray[np.int64], n_events: int) -> FloatArray:
    """Event-to-event transition counts of each path.

    Args:
        paths: int array (n, L) of event indices in [0, n_events), ``-1`` after a path ends.
        n_events: E.

    Returns:
        counts (n, E, E): ``counts[i, a, b]`` = number of steps a -> b in path i.
    """
    paths = np.asarray(paths, dtype=np.int64)
    n = paths.shape[0]
    src, dst = paths[:, :-1], paths[:, 1:]
    valid = (src >= 0) & (dst >= 0)
    rows = np.broadcast_to(np.arange(n)[:, None], src.shape)[valid]
    return count_pairs(rows, src[valid], dst[valid], n, n_events)


def count_pairs(
    rows: npt.NDArray[np.int64], src: npt.NDArray[np.int64], dst: npt.NDArray[np.int64], n: int, n_events: int
) -> FloatArray:
    """(n, E, E) counts of the steps ``src[j] -> dst[j]`` made by trajectory ``rows[j]``."""
    flat = (rows * n_events + src) * n_events + dst
    counts = np.bincount(flat, minlength=n * n_events * n_events)
    return counts.reshape(n, n_events, n_events).astype(float)


def kl_terms(
    session_counts: FloatArray, centroid_counts: FloatArray, eps: float = EPS
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """The summands of every row KL and which source events both kernels observe.

    Args:
        session_counts: (..., n, E, E) pair counts of each session.
        centroid_counts: pooled pair counts broadcastable to ``session_counts``: (E, E) one
            centroid for all, (..., n, E, E) one per session (leave-one-out).
        eps: KL smoothing constant.

    Returns:
        ``(terms, shared)``: ``terms[..., i, e, k] = (p + eps) log((p + eps) / (q + eps))`` for
        destinations k in the support of the session's row e (0 elsewhere), in nats, shape
        (..., n, E, E); ``shared[..., i, e]`` is True where both kernels observe source e.
    """
    s_tot = session_counts.sum(axis=-1, keepdims=True)
    c_tot = centroid_counts.sum(axis=-1, keepdims=True)
    p = np.divide(session_counts, s_tot, out=np.zeros_like(session_counts), where=s_tot > 0)
    q = np.divide(centroid_counts, c_tot, out=np.zeros_like(centroid_counts, dtype=float), where=c_tot > 0)
    terms = np.where(p > 0, (p + eps) * np.log((p + eps) / (q + eps)), 0.0)
    shared = (s_tot[..., 0] > 0) & (c_tot[..., 0] > 0)
    return terms, np.broadcast_to(shared, terms.shape[:-1])


def divergence(session_counts: FloatArray, centroid_counts: FloatArray, eps: float = EPS) -> FloatArray:
    """Delta_Y for each session: mean KL over the source events both kernels observe.

    Args:
        session_counts: (n, E, E) pair counts of each session (any leading batch axes allowed).
        centroid_counts: (E, E) pooled pair counts of the class, or (n, E, E) one centroid per
            session (leave-one-out); anything broadcastable to ``session_counts``.
        eps: KL smoothing constant.

    Returns:
        (n,) mean KL in nats; NaN for a session that shares no observed source event with the
        centroid (including sessions with fewer than 2 events).
    """
    terms, shared = kl_terms(session_counts, centroid_counts, eps)
    n_shared = shared.sum(axis=-1)
    total = np.where(shared, terms.sum(axis=-1), 0.0).sum(axis=-1)
    return np.divide(total, n_shared, out=np.full(total.shape, np.nan), where=n_shared > 0)


def gaps(
    session_counts: FloatArray, human_counts: FloatArray, agent_counts: FloatArray, eps: float = EPS
) -> FloatArray:
    """g(s) = Delta_H(s) - Delta_A(s), shape (n,); NaN where either divergence is undefined."""
    return divergence(session_counts, human_counts, eps) - divergence(session_counts, agent_counts, eps)


def agent_probability(gap: npt.ArrayLike, temperature: float = 1.0) -> FloatArray:
    """Weak agent probability f = sigmoid(gap / T); NaN gaps stay NaN."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    z = np.asarray(gap, dtype=float) / temperature
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def path_gaps(
    paths: npt.NDArray[np.int64], human_counts: FloatArray, agent_counts: FloatArray, eps: float = EPS
) -> FloatArray:
    """g(s) = Delta_H(s) - Delta_A(s) for each path, touching only the pairs each path makes.

    The same quantity as ``gaps(pair_counts(paths, S), human_counts, agent_counts, eps)``, but
    its cost grows with the number of transitions, not with n * S^2: the simulator scores every
    sampled session with it.

    Args:
        paths: int array (n, L) of event indices, ``-1`` after a path ends.
        human_counts, agent_counts: pooled pair counts of the class centroids, shape (S, S).
        eps: KL smoothing constant.

    Returns:
        (n,) gaps in nats; NaN where either divergence is undefined (fewer than 2 events, or no
        source event shared with a centroid).
    """
    paths = np.asarray(paths, dtype=np.int64)
    n, s = paths.shape[0], human_counts.shape[0]
    src, dst = paths[:, :-1], paths[:, 1:]
    valid = (src >= 0) & (dst >= 0)
    owner_of_move = np.nonzero(valid)[0]
    pair, count = np.unique((owner_of_move * s + src[valid]) * s + dst[valid], return_counts=True)
    row, inverse = np.unique(pair // s, return_inverse=True)  # row = session * S + source
    p = count / np.bincount(inverse, weights=count)[inverse]
    source, owner, destination = row % s, row // s, pair % s
    deltas = []
    for centroid in (human_counts, agent_counts):
        totals = centroid.sum(axis=1)
        q = np.divide(centroid, totals[:, None], out=np.zeros_like(centroid, dtype=float), where=totals[:, None] > 0)
        terms = (p + eps) * np.log((p + eps) / (q[source[inverse], destination] + eps))
        row_kl = np.bincount(inverse, weights=terms, minlength=row.size)
        shared = totals[source] > 0
        total = np.bincount(owner, weights=np.where(shared, row_kl, 0.0), minlength=n)
        n_shared = np.bincount(owner, weights=shared, minlength=n)
        deltas.append(np.divide(total, n_shared, out=np.full(n, np.nan), where=n_shared > 0))
    return deltas[0] - deltas[1]
