"""Behaviour kernels: Markov transition matrices estimated from trajectories (MODEL.md section 3).

A trajectory table is the long, time-ordered event table returned by
:func:`phantom_lib.data.trajectories`: one row per event with at least the columns
``trajectory`` (id), ``actor`` (``"human"``/``"agent"``), ``step`` (position, from 0) and a
state column (``event`` for the event-level kernel). Rows are sorted by
(``trajectory``, ``step``).

The MLE kernel is P(s'|s) = N(s, s') / sum_k N(s, k) over consecutive events of each
trajectory; the last event of a trajectory moves to the absorbing state ``session_end``.
Rows never observed as a source go to ``session_end``. The initial distribution pi0 is the
MLE of first states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib.events import SESSION_END

ROW_SUM_TOLERANCE = 1e-9


class KernelError(ValueError):
    """A kernel that is not a valid Markov transition matrix."""


@dataclass(frozen=True)
class Kernel:
    """A finite Markov chain over labelled states.

    Attributes:
        labels: state names, unique, length S; contains ``session_end``.
        matrix: transition probabilities, shape (S, S), rows = source state, row-stochastic.
        pi0: initial distribution, shape (S,), sums to 1.
        counts: observed transition counts behind ``matrix``, shape (S, S) (zeros if unknown).
    """

    labels: tuple[str, ...]
    matrix: npt.NDArray[np.float64]
    pi0: npt.NDArray[np.float64]
    counts: npt.NDArray[np.float64] = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        labels = tuple(str(label) for label in self.labels)
        object.__setattr__(self, "labels", labels)
        matrix = np.asarray(self.matrix, dtype=float)
        pi0 = np.asarray(self.pi0, dtype=float)
        counts = np.zeros_like(matrix) if self.counts is None else np.asarray(self.counts, dtype=float)
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "pi0", pi0)
        object.__setattr__(self, "counts", counts)
        validate(labels, matrix, pi0, counts)

    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return len(self.labels)

    def index(self, label: str) -> int:
        """Position of ``label`` in :attr:`labels`; ``KeyError`` naming the known states otherwise."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise KeyError(f"state {label!r} is not in this kernel; states: {list(self.labels)}") from None

    @property
    def end(self) -> int:
        """Index of the absorbing ``session_end`` state."""
        return self.index(SESSION_END)

    def to_frame(self) -> pd.DataFrame:
        """The matrix as a labelled frame (index = source, columns = destination)."""
        return pd.DataFrame(self.matrix, index=list(self.labels), columns=list(self.labels))

    def reorder(self, labels: Sequence[str]) -> Kernel:
        """The same chain with states in the order ``labels`` (a permutation of :attr:`labels`)."""
        if sorted(labels) != sorted(self.labels):
            raise KernelError(f"reorder needs a permutation of the kernel's states; got {list(labels)}")
        order = [self.index(label) for label in labels]
        grid = np.ix_(order, order)
        return Kernel(tuple(labels), self.matrix[grid], self.pi0[order], self.counts[grid])


def validate(
    labels: Sequence[str],
    matrix: npt.NDArray[np.float64],
    pi0: npt.NDArray[np.float64],
    counts: npt.NDArray[np.float64] | None = None,
) -> None:
    """Raise :class:`KernelError` listing every way the arrays fail to be a kernel."""
    problems: list[str] = []
    s = len(labels)
    duplicates = sorted({label for label in labels if list(labels).count(label) > 1})
    if duplicates:
        problems.append(f"labels must be unique; repeated: {duplicates}")
    if SESSION_END not in labels:
        problems.append(f"labels must include the absorbing state {SESSION_END!r}")
    if matrix.shape != (s, s):
        problems.append(f"matrix must have shape ({s}, {s}) for {s} labels; got {matrix.shape}")
    if pi0.shape != (s,):
        problems.append(f"pi0 must have shape ({s},); got {pi0.shape}")
    if counts is not None and counts.shape != matrix.shape:
        problems.append(f"counts must have the matrix's shape {matrix.shape}; got {counts.shape}")
    if not problems:
        for name, array in (("matrix", matrix), ("pi0", pi0)):
            if not np.all(np.isfinite(array)):
                problems.append(f"{name} has {int((~np.isfinite(array)).sum())} non-finite entries")
            elif np.any(array < 0):
                where = np.argwhere(array < 0)[0]
                problems.append(f"{name} has {int((array < 0).sum())} negative entries, e.g. at {tuple(where)}")
        if np.all(np.isfinite(matrix)):
            sums = matrix.sum(axis=1)
            bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
            if bad.size:
                problems.append(
                    f"rows must sum to 1 within {ROW_SUM_TOLERANCE:g}; {bad.size} do not, "
                    f"e.g. row {labels[bad[0]]!r} sums to {sums[bad[0]]:.12g}"
                )
        if np.all(np.isfinite(pi0)) and abs(pi0.sum() - 1.0) > ROW_SUM_TOLERANCE:
            problems.append(f"pi0 must sum to 1 within {ROW_SUM_TOLERANCE:g}; sums to {pi0.sum():.12g}")
        if SESSION_END in labels and matrix.shape == (s, s):
            end = list(labels).index(SESSION_END)
            if abs(matrix[end, end] - 1.0) > ROW_SUM_TOLERANCE:
                problems.append(f"{SESSION_END!r} must be absorbing (P(end -> end) = 1)")
    if problems:
        raise KernelError("invalid kernel:\n  - " + "\n  - ".join(problems))


def _check_columns(trajectories: pd.DataFrame, state: str) -> None:
    missing = [c for c in ("trajectory", "step", state) if c not in trajectories.columns]
    if missing:
        raise KeyError(
            f"trajectory table lacks column(s) {missing}; build it with phantom_lib.data.trajectories()"
        )


def transition_counts(
    trajectories: pd.DataFrame, state: str = "event", labels: Sequence[str] | None = None
) -> tuple[tuple[str, ...], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Count transitions and first states, vectorised over the whole table.

    Returns ``(labels, counts, first)``: the state order (observed states sorted, then
    ``session_end``, unless ``labels`` is given), transition counts (S, S) including
    last-event -> ``session_end``, and first-state counts (S,).
    """
    _check_columns(trajectories, state)
    table = trajectories.sort_values(["trajectory", "step"], kind="stable")
    values = table[state].astype(str).to_numpy()
    if labels is None:
        labels = tuple(sorted(set(values) - {SESSION_END})) + (SESSION_END,)
    labels = tuple(labels)
    lookup = {label: i for i, label in enumerate(labels)}
    unknown = sorted(set(values) - set(lookup))
    if unknown:
        raise KeyError(f"states {unknown[:5]} are not among the labels given ({len(unknown)} unknown)")
    codes = pd.Series(values).map(lookup).to_numpy(dtype=np.int64)
    traj = table["trajectory"].to_numpy()
    s = len(labels)
    counts = np.zeros((s, s))
    first = np.zeros(s)
    if codes.size:
        same_next = np.empty(codes.size, dtype=bool)
        same_next[:-1] = traj[1:] == traj[:-1]
        same_next[-1] = False
        destination = np.where(same_next, np.roll(codes, -1), lookup[SESSION_END])
        np.add.at(counts, (codes, destination), 1.0)
        starts = np.concatenate(([True], ~same_next[:-1]))
        np.add.at(first, codes[starts], 1.0)
    return labels, counts, first


def from_counts(
    labels: Sequence[str],
    counts: npt.NDArray[np.float64],
    first: npt.NDArray[np.float64],
    smoothing: float = 0.0,
) -> Kernel:
    """MLE kernel from transition and first-state counts.

    ``smoothing`` (>= 0) is added to every entry of each row that has at least one observed
    transition (additive/Laplace smoothing); rows never observed go to ``session_end`` with
    probability 1, and ``session_end`` is absorbing. pi0 is first-state frequencies
    (uniform over non-terminal states if no trajectory was seen).
    """
    if smoothing < 0 or not np.isfinite(smoothing):
        raise KernelError(f"smoothing must be a finite number >= 0; got {smoothing}")
    labels = tuple(labels)
    end = labels.index(SESSION_END)
    counts = np.asarray(counts, dtype=float)
    observed = counts.sum(axis=1) > 0
    observed[end] = False
    matrix = np.zeros_like(counts)
    weighted = counts[observed] + smoothing
    matrix[observed] = weighted / weighted.sum(axis=1, keepdims=True)
    matrix[~observed, end] = 1.0
    first = np.asarray(first, dtype=float)
    if first.sum() > 0:
        pi0 = first / first.sum()
    else:
        pi0 = np.ones(len(labels))
        pi0[end] = 0.0
        pi0 /= pi0.sum()
    return Kernel(labels, matrix, pi0, counts)


def estimate_kernel(
    trajectories: pd.DataFrame,
    state: str = "event",
    smoothing: float = 0.0,
    labels: Sequence[str] | None = None,
) -> Kernel:
    """MLE kernel of the trajectories in the table (all of them, whatever their class).

    Args:
        trajectories: long event table (see module docstring).
        state: column holding the state of each event (``"event"``, or a fine-state column).
        smoothing: additive smoothing of observed rows (0 = plain MLE).
        labels: state order to use (must cover every observed state and ``session_end``).
    """
    labels, counts, first = transition_counts(trajectories, state, labels)
    return from_counts(labels, counts, first, smoothing)


def estimate_by_class(
    trajectories: pd.DataFrame,
    state: str = "event",
    smoothing: float = 0.0,
    label_column: str = "actor",
) -> dict[str, Kernel]:
    """One kernel per class (e.g. ``{"human": T_H, "agent": T_A}``) over a shared state order."""
    if label_column not in trajectories.columns:
        raise KeyError(f"trajectory table lacks the class column {label_column!r}")
    _check_columns(trajectories, state)
    observed = set(trajectories[state].astype(str)) - {SESSION_END}
    labels = tuple(sorted(observed)) + (SESSION_END,)
    return {
        str(cls): estimate_kernel(group, state, smoothing, labels)
        for cls, group in trajectories.groupby(label_column, sort=True)
    }


def sample_paths(
    matrix: npt.NDArray[np.float64],
    pi0: npt.NDArray[np.float64],
    n: int,
    rng: np.random.Generator,
    max_len: int = 40,
    end: int | None = None,
    stop: Sequence[int] = (),
) -> npt.NDArray[np.int64]:
    """Sample ``n`` paths of a Markov chain by inverse CDF, all chains advanced together.

    Args:
        matrix: transition matrix, shape (S, S), rows = source.
        pi0: initial distribution, shape (S,).
        n: number of paths.
        rng: the caller's seeded generator (one uniform per path and position is drawn,
            shape (n, max_len), so results depend only on the seed).
        max_len: L_max, the most states a path holds.
        end: index of the absorbing terminal state; reaching it ends a path and is not recorded.
        stop: indices of states that end a path after being recorded (e.g. ``checkout_start``).

    Returns:
        int array (n, max_len): the visited states, padded with -1 after a path ends.
    """
    if n < 0 or max_len < 1:
        raise ValueError(f"need n >= 0 and max_len >= 1; got n={n}, max_len={max_len}")
    s = matrix.shape[0]
    cdf = np.cumsum(matrix, axis=1)
    cdf0 = np.cumsum(pi0)
    u = rng.random((n, max_len))
    paths = np.full((n, max_len), -1, dtype=np.int64)
    state = np.minimum(np.searchsorted(cdf0, u[:, 0], side="right"), s - 1)
    alive = np.ones(n, dtype=bool) if end is None else state != end
    stop_mask = np.zeros(s, dtype=bool)
    stop_mask[list(stop)] = True
    for t in range(max_len):
        if t > 0:
            nxt = (cdf[state] <= u[:, t, None]).sum(axis=1)
            state = np.where(alive, np.minimum(nxt, s - 1), state)
            if end is not None:
                alive &= state != end
        paths[alive, t] = state[alive]
        alive &= ~stop_mask[state]
        if not alive.any():
            break
    return paths
