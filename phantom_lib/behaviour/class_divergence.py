"""The divergence between two class kernels (Model reference, section 3): per source state and
averaged, with the eps floor of the session scores (:func:`class_kl`) and under Dirichlet
smoothing (:func:`smoothed_class_kl`), and the table of both (:func:`describe`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib.behaviour.kernels import Kernel, KernelError
from phantom_lib.behaviour.kl import divergence
from phantom_lib.data.events import SESSION_END


def _event_pairs(kernel: Kernel) -> npt.NDArray[np.float64]:
    keep = [i for i in range(kernel.n_states) if i != kernel.end]
    return kernel.counts[np.ix_(keep, keep)]


def state_kl(p: Kernel, q: Kernel) -> pd.Series:
    """KL(P[s] || Q[s]) in nats for each source state, from the kernels' state-to-state counts.

    Uses :func:`phantom_lib.behaviour.kl.divergence` (same eps, support and the same
    "no move to ``session_end``" convention as the session scores), one source row at a time:
    each row of P is a one-source "session" scored against the same row of Q. NaN where either
    kernel never observed the source. Index: state labels without ``session_end``.
    """
    if p.labels != q.labels:
        raise KernelError("state_kl needs two kernels over the same state order (use estimate_by_class)")
    cp, cq = _event_pairs(p), _event_pairs(q)
    kl = divergence(cp[:, None, :], cq[:, None, :])
    return pd.Series(kl, index=[label for label in p.labels if label != SESSION_END], name="kl")


def class_kl(p: Kernel, q: Kernel) -> float:
    """Class-level KL(P || Q): the mean of :func:`state_kl` over source states both observe (nats)."""
    if p.labels != q.labels:
        raise KernelError("class_kl needs two kernels over the same state order (use estimate_by_class)")
    return float(divergence(_event_pairs(p)[None], _event_pairs(q))[0])


def smoothed_state_kl(p: Kernel, q: Kernel, pseudocount: float = 0.5) -> pd.Series:
    """KL(P[s] || Q[s]) in nats per source state, with additive (Dirichlet) smoothing in place of
    the eps floor of :func:`state_kl`.

    The floor charges a move that P makes and Q never made about p ln(p / eps), some 23 p nats at
    eps = 1e-10, whether Q's zero is structural or a sampling zero. Here each row of
    state-to-state counts N(s, .) (no move to ``session_end``, as in :func:`state_kl`) of both
    kernels is replaced by its posterior mean under a symmetric Dirichlet(a) prior,
    p_k = (N(s, k) + a) / (N(s) + a D) over the D = S - 1 destinations, and
    KL = sum over all D destinations of p_k ln(p_k / q_k). ``pseudocount`` a > 0: 0.5 is the
    Jeffreys prior, 1 Laplace's rule of succession. NaN where either kernel never observed the
    source, as in :func:`state_kl`. Index: state labels without ``session_end``.
    """
    if p.labels != q.labels:
        raise KernelError("smoothed_state_kl needs two kernels over the same state order (use estimate_by_class)")
    if isinstance(pseudocount, bool) or not (np.isfinite(pseudocount) and pseudocount > 0):
        raise ValueError(f"pseudocount (Dirichlet a) must be a finite number > 0; got {pseudocount!r}")
    cp, cq = _event_pairs(p), _event_pairs(q)
    rows_p, rows_q = cp.sum(axis=1, keepdims=True), cq.sum(axis=1, keepdims=True)
    post_p = (cp + pseudocount) / (rows_p + pseudocount * cp.shape[1])
    post_q = (cq + pseudocount) / (rows_q + pseudocount * cq.shape[1])
    kl = (post_p * np.log(post_p / post_q)).sum(axis=1)
    observed = (rows_p[:, 0] > 0) & (rows_q[:, 0] > 0)
    labels = [label for label in p.labels if label != SESSION_END]
    return pd.Series(np.where(observed, kl, np.nan), index=labels, name="kl")


FLOOR_DOMINATES = 2.0
"""The floored class KL *rests on the floor* when it exceeds the smoothed one more than this many
times: then more than half of its size is what smoothing removes, the floor's share is a majority,
the least that "most of its size comes from the floor" can mean. Chapter 04's verdict and the What
holds up page's rule both use it."""


def floor_dominates(floored: float, smoothed: float) -> bool:
    """Whether the floored class KL rests on the floor: ``floored > FLOOR_DOMINATES * smoothed`` (nats)."""
    return floored > FLOOR_DOMINATES * smoothed


def smoothed_class_kl(p: Kernel, q: Kernel, pseudocount: float = 0.5) -> float:
    """Class-level KL(P || Q) under Dirichlet smoothing: the mean of :func:`smoothed_state_kl`
    over the source states both kernels observe (the sources :func:`class_kl` averages), nats."""
    return float(smoothed_state_kl(p, q, pseudocount).mean())


def describe(kernels: Mapping[str, Kernel], pseudocount: float | None = None) -> pd.Series:
    """What a pair of class kernels (``{"human": T_H, "agent": T_A}``) rests on, and how far apart.

    Returns states S, trajectories and transitions per class, and the class-level KL in both
    directions (nats): with the eps floor (:func:`class_kl`) and, when ``pseudocount`` is given,
    under Dirichlet smoothing with that pseudocount (:func:`smoothed_class_kl`).
    """
    human, agent = kernels["human"], kernels["agent"]
    row: dict[str, float] = {"states": human.n_states}
    for cls, kernel in (("human", human), ("agent", agent)):
        row[f"{cls} trajectories"] = kernel.counts[:, kernel.end].sum()
        row[f"{cls} transitions"] = kernel.counts.sum()
    row["KL(T_H || T_A)"] = class_kl(human, agent)
    row["KL(T_A || T_H)"] = class_kl(agent, human)
    if pseudocount is not None:
        row[f"KL(T_H || T_A), Dirichlet a = {pseudocount:g}"] = smoothed_class_kl(human, agent, pseudocount)
        row[f"KL(T_A || T_H), Dirichlet a = {pseudocount:g}"] = smoothed_class_kl(agent, human, pseudocount)
    return pd.Series(row)
