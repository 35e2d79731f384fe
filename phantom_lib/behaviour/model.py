"""The behaviour a simulated market samples from, estimated from data (Model reference, sections 3-4).

:class:`Behaviour` is a value: the human and agent event-level kernels over one state order and
each class's centroid pair counts (the scoring reference of f). Build it from kernels, from a
trajectory table, or from a data source with :func:`load_behaviour` (a path to a
``whoclicked.csv`` file or ``"standin"``); the simulator receives it as an argument or names a
data source in its configuration, never through a global or an environment variable.

Class order everywhere: index 0 = human, 1 = agent (:data:`CLASSES`).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from phantom_lib._arrays import FloatArray
from phantom_lib.behaviour.kernels import Kernel, estimate_by_class
from phantom_lib.data.events import CHECKOUT, SESSION_END, weights_of

CLASSES = ("human", "agent")
"""Class order of every per-class array: 0 = human, 1 = agent."""


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
            (S, S); the ``session_end`` row and column are zero (Model reference, section 4).
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


@functools.lru_cache(maxsize=8)
def _load_cached(source: str, stamp: tuple[int, int], unit: str, smoothing: float) -> Behaviour:
    from phantom_lib.data.sources import load_whoclicked
    from phantom_lib.data.tables import trajectories

    return Behaviour.from_trajectories(trajectories(load_whoclicked(source), unit=unit), smoothing)


def load_behaviour(
    source: str | os.PathLike[str] = "standin", unit: str = "experiment", smoothing: float = 0.0
) -> Behaviour:
    """Estimate the market behaviour from a data source: a ``whoclicked.csv`` path or ``"standin"``.

    The file is read, validated and turned into trajectories per ``unit`` (``experiment`` or
    ``session``); the event-level class kernels (``smoothing`` pseudo-counts) and centroids are
    estimated from them. The result is memoised per (file, modification time, size), so many
    environments on one source estimate it once per process, and an edited file is read again.
    """
    from phantom_lib.data.sources import resolve_source

    kind, location, _ = resolve_source(source)
    stamp = (0, 0)
    if kind != "hub":
        info = Path(location).stat()
        stamp = (info.st_mtime_ns, info.st_size)
    return _load_cached(str(source) if kind == "hub" else location, stamp, unit, float(smoothing))
