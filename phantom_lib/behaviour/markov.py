"""Long-run and absorbing-chain results of behaviour kernels (Model reference, section 3).

A kernel's ``session_end`` is absorbing, so the kernel's own stationary distribution is the
point mass on ``session_end``. Two views say more:

* the **absorbing chain**: with transient block Q and transient-to-absorbing block R, the
  fundamental matrix N = (I - Q)^-1 holds expected visits; from pi0 the expected visits per
  session are pi0_T N, the absorption probabilities pi0_A + pi0_T N R. Any set of states
  (e.g. every ``checkout_start`` state) can be made absorbing alongside ``session_end``.
* the **restart chain**: ``session_end`` jumps back to pi0 (sessions follow one another). Its
  stationary distribution is the long-run share of time in each state; by the renewal-reward
  theorem it is proportional to (pi0_T N, 1) when only ``session_end`` absorbs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._arrays import FloatArray
from phantom_lib.behaviour.kernels import Kernel, event_of
from phantom_lib.data.events import CHECKOUT, SESSION_END


def stationary(matrix: npt.ArrayLike) -> FloatArray:
    """The unique stationary distribution pi (pi P = pi, sum 1) of a chain, shape (S,).

    Raises ``ValueError`` when it is not unique (more than one closed class, e.g. an absorbing
    chain with two absorbing states).
    """
    p = np.asarray(matrix, dtype=float)
    s = p.shape[0]
    if p.shape != (s, s):
        raise ValueError(f"matrix must be square; got shape {p.shape}")
    system = p.T - np.eye(s)
    if np.linalg.matrix_rank(system) != s - 1:
        raise ValueError(
            "the chain has more than one closed class, so its stationary distribution is not unique; "
            "use restart_matrix(kernel) for a kernel with an absorbing session_end"
        )
    a = np.vstack([system, np.ones(s)])
    b = np.append(np.zeros(s), 1.0)
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    return np.clip(pi, 0.0, None) / np.clip(pi, 0.0, None).sum()


def restart_matrix(kernel: Kernel) -> FloatArray:
    """The kernel's matrix with ``session_end`` jumping back to pi0, shape (S, S)."""
    matrix = kernel.matrix.copy()
    matrix[kernel.end] = kernel.pi0
    return matrix


@dataclass(frozen=True)
class Absorption:
    """Absorbing-chain results of a kernel from its initial distribution pi0.

    Attributes:
        transient: labels of the transient states, length T.
        absorbing: labels of the absorbing states, length A (``session_end`` first).
        fundamental: N = (I - Q)^-1, shape (T, T): expected visits to j starting from i.
        visits: expected visits per session to each transient state, pi0_T N, shape (T,).
        absorption: probability that a session ends in each absorbing state, shape (A,).
        expected_length: expected events per session: transient visits plus the absorbing
            state reached when it is an event (every absorbing state except ``session_end``),
            the convention of :func:`phantom_lib.behaviour.kernels.sample_paths` with ``stop`` states.
    """

    transient: tuple[str, ...]
    absorbing: tuple[str, ...]
    fundamental: FloatArray
    visits: FloatArray
    absorption: FloatArray
    expected_length: float

    def absorbed_in(self, event: str) -> float:
        """Probability of ending in any absorbing state whose event is ``event``."""
        return float(sum(p for label, p in zip(self.absorbing, self.absorption) if event_of(label) == event))


def absorbing_chain(kernel: Kernel, absorbing: Sequence[str] = ()) -> Absorption:
    """Fundamental-matrix results with ``session_end`` and the states ``absorbing`` absorbing.

    Args:
        kernel: the chain (rows = source) with pi0.
        absorbing: further state labels treated as absorbing (e.g. the ``checkout_start``
            states); their outgoing transitions are ignored.
    """
    extra = [kernel.index(label) for label in absorbing if label != SESSION_END]
    absorbing_idx = [kernel.end, *dict.fromkeys(extra)]
    transient_idx = [i for i in range(kernel.n_states) if i not in absorbing_idx]
    q = kernel.matrix[np.ix_(transient_idx, transient_idx)]
    r = kernel.matrix[np.ix_(transient_idx, absorbing_idx)]
    reaches = r.sum(axis=1) > 0
    for _ in range(len(transient_idx)):
        grown = reaches | ((q > 0) @ reaches)
        if np.array_equal(grown, reaches):
            break
        reaches = grown
    if not reaches.all():
        trapped = [kernel.labels[transient_idx[i]] for i in np.flatnonzero(~reaches)]
        raise ValueError(f"states {trapped[:5]} never reach an absorbing state, so I - Q is singular")
    fundamental = np.linalg.inv(np.eye(len(transient_idx)) - q)
    pi0_t, pi0_a = kernel.pi0[transient_idx], kernel.pi0[absorbing_idx]
    visits = pi0_t @ fundamental
    absorption = pi0_a + visits @ r
    labels = kernel.labels
    return Absorption(
        transient=tuple(labels[i] for i in transient_idx),
        absorbing=tuple(labels[i] for i in absorbing_idx),
        fundamental=fundamental,
        visits=visits,
        absorption=absorption,
        expected_length=float(visits.sum() + absorption[1:].sum()),
    )


def visit_frequencies(kernel: Kernel) -> pd.Series:
    """Expected visits per session to each state (``session_end``: 1), indexed by label."""
    result = absorbing_chain(kernel)
    return pd.Series(dict(zip(result.transient, result.visits)) | {SESSION_END: 1.0}).reindex(kernel.labels)


def class_summary(kernels: Mapping[str, Kernel], stop_event: str = CHECKOUT) -> pd.DataFrame:
    """Per class: session length and how sessions end, from the fundamental matrix.

    Columns: ``expected_length`` (events per session, only ``session_end`` absorbing);
    with every state of ``stop_event`` also absorbing (the simulator's rule, Model reference, section 5):
    ``p_<stop_event>`` (probability of reaching it), ``p_session_end`` (of ending
    first) and ``length_to_<stop_event>`` (events until either, the stop event included).
    """
    rows = {}
    for cls, kernel in kernels.items():
        stops = [label for label in kernel.labels if event_of(label) == stop_event]
        full, cut = absorbing_chain(kernel), absorbing_chain(kernel, stops)
        rows[cls] = {
            "expected_length": full.expected_length,
            f"p_{stop_event}": cut.absorbed_in(stop_event),
            f"p_{SESSION_END}": cut.absorbed_in(SESSION_END),
            f"length_to_{stop_event}": cut.expected_length,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("class")
