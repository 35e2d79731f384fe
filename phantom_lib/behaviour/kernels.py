"""Behaviour kernels: Markov transition matrices estimated from trajectories (Model reference, section 3).

A trajectory table is the long, time-ordered event table returned by
:func:`phantom_lib.data.trajectories`: one row per event with at least the columns
``trajectory`` (id), ``actor`` (``"human"``/``"agent"``), ``step`` (position, from 0) and a
state column (``event`` for the event-level kernel). Rows are sorted by
(``trajectory``, ``step``).

The MLE kernel is P(s'|s) = N(s, s') / sum_k N(s, k) over consecutive events of each
trajectory; the last event of a trajectory moves to the absorbing state ``session_end``.
Rows never observed as a source go to ``session_end``. The initial distribution pi0 is the
MLE of first states. The divergence between two class kernels is in
:mod:`phantom_lib.behaviour.class_divergence`; estimation, demand conditions and the factorised
sampler stay together here because they all work on the one :class:`Kernel` value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib.data.events import CHECKOUT, SESSION_END, demand_proxy, weights_of

ROW_SUM_TOLERANCE = 1e-9

STATE = "state"
"""Column that :func:`add_state` writes: the Markov state of each event."""

GRANULARITIES = ("event", "fine")
"""State granularities: the event name, or the fine state ``page|product|event``."""

FINE_COLUMNS = ("page", "product", "event")
"""Columns joined (with ``|``) into a fine state."""

MAX_EXPANDED_STATES = 2048
"""Largest E*N for which :func:`expand` builds the explicit (E*N) x (E*N) matrix (32 MiB)."""


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


def _observed_labels(values: pd.Series) -> tuple[str, ...]:
    """Observed states sorted, then ``session_end`` (the shared state order)."""
    return tuple(sorted(set(values.unique()) - {SESSION_END})) + (SESSION_END,)


def transition_counts(
    trajectories: pd.DataFrame, state: str = "event", labels: Sequence[str] | None = None
) -> tuple[tuple[str, ...], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Count transitions and first states, vectorised over the whole table.

    Returns ``(labels, counts, first)``: the state order (observed states sorted, then
    ``session_end``, unless ``labels`` is given), transition counts (S, S) including
    last-event -> ``session_end``, and first-state counts (S,).
    """
    _check_columns(trajectories, state)
    values = trajectories[state].astype(str)
    labels = _observed_labels(values) if labels is None else tuple(labels)
    if SESSION_END not in labels:
        raise KernelError(f"labels must include the absorbing state {SESSION_END!r}; got {list(labels)[:5]}...")
    codes = pd.Index(labels).get_indexer(values).astype(np.int64)
    if np.any(codes < 0):
        unknown = sorted(values[codes < 0].unique())
        raise KeyError(f"states {unknown[:5]} are not among the labels given ({len(unknown)} unknown)")
    traj = pd.factorize(trajectories["trajectory"])[0]
    step = trajectories["step"].to_numpy()
    in_order = np.all((traj[1:] > traj[:-1]) | ((traj[1:] == traj[:-1]) & (step[1:] > step[:-1])))
    if not in_order:
        order = np.lexsort((step, traj))
        codes, traj = codes[order], traj[order]
    s = len(labels)
    end = labels.index(SESSION_END)
    same_next = np.zeros(codes.size, dtype=bool)
    same_next[:-1] = traj[1:] == traj[:-1]
    destination = np.where(same_next, np.roll(codes, -1), end)
    counts = np.bincount(codes * s + destination, minlength=s * s).reshape(s, s).astype(float)
    starts = np.ones(codes.size, dtype=bool)
    starts[1:] = ~same_next[:-1]
    first = np.bincount(codes[starts], minlength=s).astype(float)
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
    labels = _observed_labels(trajectories[state].astype(str))
    return {
        str(cls): estimate_kernel(group, state, smoothing, labels)
        for cls, group in trajectories.groupby(label_column, sort=True)
    }


def add_state(trajectories: pd.DataFrame, granularity: str = "event") -> pd.DataFrame:
    """A copy of the trajectory table with the Markov state of each event in column ``state``.

    ``granularity="event"``: the event name. ``granularity="fine"``: ``page|product|event``
    (product ``""`` when the event has none), vectorised string joins over the whole table.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}; got {granularity!r}")
    needed = ("event",) if granularity == "event" else FINE_COLUMNS
    missing = [c for c in needed if c not in trajectories.columns]
    if missing:
        raise KeyError(
            f"granularity {granularity!r} needs column(s) {missing}; "
            "build the table with phantom_lib.data.trajectories()"
        )
    parts = [trajectories[c].fillna("").astype(str) for c in needed]
    state = parts[0]
    for part in parts[1:]:
        state = state + "|" + part
    return trajectories.assign(**{STATE: state})


def class_kernels(
    trajectories: pd.DataFrame, granularity: str = "event", smoothing: float = 0.0
) -> dict[str, Kernel]:
    """``{"agent": T_A, "human": T_H}`` at a granularity (see :func:`add_state`), shared state order."""
    return estimate_by_class(add_state(trajectories, granularity), STATE, smoothing)


def event_of(label: str) -> str:
    """The event name of a state label at either granularity (``page|product|event`` -> ``event``)."""
    return label.rsplit("|", 1)[-1]


def paths_to_table(
    paths: npt.NDArray[np.int64], labels: Sequence[str], actor: str = "human"
) -> pd.DataFrame:
    """Sampled paths as a kernel-ready trajectory table (the columns kernels need).

    Args:
        paths: int array (n, L) of state indices, ``-1`` after a path ends (as from
            :func:`sample_paths`).
        labels: state names indexed by the path values.
        actor: class of every path (``"human"`` or ``"agent"``).

    Returns:
        one row per recorded state, sorted by (trajectory, step), with columns ``trajectory``
        (``"<actor>-<row>"``), ``actor``, ``is_agent``, ``step`` and ``event``.
    """
    paths = np.asarray(paths, dtype=np.int64)
    rows, steps = np.nonzero(paths >= 0)
    names = np.asarray(labels, dtype=object)
    return pd.DataFrame(
        {
            "trajectory": f"{actor}-" + pd.Series(rows).astype(str),
            "actor": actor,
            "is_agent": int(actor == "agent"),
            "step": steps,
            "event": names[paths[rows, steps]],
        }
    )


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


def demand_condition(demand: Any, xp: Any = np) -> Any:
    """The demand condition c = d / sum(d) along the last axis, uniform where d is all zero.

    Model reference, section 3. Works on numpy or jax.numpy arrays (``xp``) of any batch shape,
    e.g. (N,) for one class or (2, N) for both; no input checks (it runs inside jit-compiled
    code): :func:`checked_demand` validates a numpy input first.

    Args:
        demand: non-negative demand per product, shape (..., N) (any scale, e.g. summing to 100).

    Returns:
        c, shape (..., N); each row sums to 1.
    """
    total = demand.sum(axis=-1, keepdims=True)
    uniform = xp.ones_like(demand) / demand.shape[-1]
    return xp.where(total > 0, demand / xp.where(total > 0, total, 1.0), uniform)


def checked_demand(demand: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``demand`` as a float array of shape (N,), N >= 1, finite and non-negative; else a
    ``ValueError`` naming the bad products."""
    d = np.asarray(demand, dtype=float)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"demand condition c must be a non-empty 1-D array (one value per product); got shape "
                         f"{d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError(
            f"demand condition c has non-finite entries at products {np.flatnonzero(~np.isfinite(d)).tolist()}"
        )
    if np.any(d < 0):
        raise ValueError(
            f"demand condition c must be non-negative; negative at products {np.flatnonzero(d < 0).tolist()}"
        )
    return d


def class_demand(
    trajectories: pd.DataFrame, label_column: str = "actor"
) -> tuple[tuple[str, ...], dict[str, npt.NDArray[np.float64]]]:
    """Observed demand proxy q per class over the table's products (Model reference, section 1).

    Returns ``(products, {class: q})``: product ids sorted (events without a product left
    out) and q of shape (N,) summing to 100 (0 everywhere for a class with no product events),
    ready to serve as the demand condition of :class:`FactorisedChain`.
    """
    missing = [c for c in ("product", "event", label_column) if c not in trajectories.columns]
    if missing:
        raise KeyError(f"trajectory table lacks column(s) {missing}; build it with phantom_lib.data.trajectories()")
    product = trajectories["product"].fillna("").astype(str)
    rows = trajectories[product != ""]
    products = tuple(sorted(rows["product"].astype(str).unique()))
    if not products:
        raise ValueError("no event in the table names a product, so there is no demand over products")
    codes = pd.Categorical(rows["product"].astype(str), categories=products).codes
    weights = weights_of(rows["event"].astype(str))
    labels = rows[label_column].astype(str).to_numpy()
    demand = {
        str(cls): demand_proxy(codes[labels == cls], weights[labels == cls], len(products))[1]
        for cls in sorted(trajectories[label_column].astype(str).unique())
    }
    return products, demand


def expand(kernel: Kernel, demand: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The explicit catalog-expanded chain: ``kron(T, outer(c, c))``, row-normalised.

    State (e, p) sits at index ``e * N + p``. Row (e, p) of the Kronecker product is
    c[p] * T[e, e'] * c[p'], so after normalisation P((e', p') | (e, p)) = T[e, e'] c[p'].
    A product with c[p] = 0 gives all-zero rows (such states are never reached); they take the
    normalised row of the same event at the highest-demand product, which is the same
    conditional since it does not depend on the current product.

    Returns:
        row-stochastic matrix, shape (E*N, E*N). Refuses E*N > :data:`MAX_EXPANDED_STATES`.
    """
    c = demand_condition(checked_demand(demand))
    e, n = kernel.n_states, c.size
    if e * n > MAX_EXPANDED_STATES:
        raise ValueError(
            f"the expanded chain would have E*N = {e}*{n} = {e * n} states (limit {MAX_EXPANDED_STATES}); "
            "use the factorised form FactorisedChain(kernel, c).probability / .sample, which never builds it"
        )
    full = np.kron(kernel.matrix, np.outer(c, c))
    sums = full.sum(axis=1, keepdims=True)
    full = np.divide(full, sums, out=np.zeros_like(full), where=sums > 0)
    empty = np.flatnonzero(sums[:, 0] == 0)
    full[empty] = full[empty // n * n + int(np.argmax(c))]
    return full


@dataclass(frozen=True)
class FactorisedChain:
    """The catalog-expanded chain in factorised form, P((e', p') | (e, p)) = T[e, e'] c[p'].

    Memory O(E^2 + N): the (E*N) x (E*N) matrix is never built (see :func:`expand` for the
    explicit one). Sessions start with event ~ pi0 and product ~ c (Model reference, section 5).

    Attributes:
        kernel: the event kernel T with pi0.
        c: demand condition, shape (N,); given as any non-negative per-product demand and
            stored normalised to sum 1 (uniform if all zero), see :func:`demand_condition`.
    """

    kernel: Kernel
    c: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        if not isinstance(self.kernel, Kernel):
            raise TypeError(f"kernel must be a phantom_lib.behaviour.kernels.Kernel; got {type(self.kernel).__name__}")
        object.__setattr__(self, "c", demand_condition(checked_demand(self.c)))

    @property
    def n_products(self) -> int:
        """N."""
        return self.c.size

    def _event(self, event: int | str) -> int:
        index = self.kernel.index(event) if isinstance(event, str) else int(event)
        if not 0 <= index < self.kernel.n_states:
            raise IndexError(f"event index {index} outside [0, {self.kernel.n_states})")
        return index

    def _product(self, product: int) -> int:
        if not 0 <= int(product) < self.n_products:
            raise IndexError(f"product index {product} outside [0, {self.n_products})")
        return int(product)

    def probability(self, from_state: tuple[int | str, int], to_state: tuple[int | str, int]) -> float:
        """P(to_state | from_state) for states (event, product); events by label or index.

        The current product is checked but, by construction, does not change the answer.
        """
        (event, product), (nxt_event, nxt_product) = from_state, to_state
        self._product(product)
        return float(
            self.kernel.matrix[self._event(event), self._event(nxt_event)] * self.c[self._product(nxt_product)]
        )

    def expanded(self) -> npt.NDArray[np.float64]:
        """The explicit (E*N) x (E*N) matrix of the same chain (small N only), see :func:`expand`."""
        return expand(self.kernel, self.c)

    def sample(
        self,
        n: int,
        rng: np.random.Generator,
        max_len: int = 40,
        stop: Sequence[str] = (CHECKOUT,),
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Sample ``n`` sessions: events by :func:`sample_paths`, products i.i.d. from c.

        Args:
            n: number of sessions.
            rng: the caller's seeded generator (event uniforms (n, max_len) are drawn first,
                then product uniforms (n, max_len)).
            max_len: L_max, the most states a session holds.
            stop: event labels that end a session after being recorded; labels the kernel
                does not have are ignored (they can never be reached).

        Returns:
            ``(events, products)``: int arrays (n, max_len), event and product indices,
            both ``-1`` after the session ends (``session_end`` is never recorded).
        """
        stops = [self.kernel.index(label) for label in stop if label in self.kernel.labels]
        events = sample_paths(self.kernel.matrix, self.kernel.pi0, n, rng, max_len, self.kernel.end, stops)
        cdf = np.cumsum(self.c)
        last = int(np.flatnonzero(self.c > 0)[-1])
        products = np.minimum(np.searchsorted(cdf, rng.random(events.shape), side="right"), last)
        return events, np.where(events >= 0, products, -1)
