"""Power of the human-vs-agent gap test, by simulation from the fitted class kernels.

Synthetic cohorts are sampled from the event kernels (with ``session_end``) with
:func:`phantom_lib.behaviour.kernels.sample_paths`, scored exactly as the real cohort is (pair counts,
leave-one-out centroids by default, gaps) and tested with the two-sided Mann-Whitney U test of
:mod:`phantom_lib.behaviour.separation`; the power is the share of cohorts whose p <= alpha.

Effect size: ``effect`` = delta in [0, 1] mixes the agent kernel toward the human one,
T_delta = (1 - delta) T_H + delta T_A (and likewise pi0). Human trajectories always come from
T_H, agent trajectories from T_delta: delta = 0 is the null (both classes behave alike, the
power is the test's size) and delta = 1 is the difference the kernels fitted on the data
show. The minimum detectable effect (MDE) is the smallest delta whose power reaches the target.

A cohort of size n holds n trajectories with at least 2 events (shorter sampled ones are
redrawn, as the observed cohort counts only scorable trajectories).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._validation import (
    Boolean,
    Each,
    Integer,
    Real,
    Validated,
)
from phantom_lib.behaviour.distinguish import MIN_EVENTS, class_gaps, pair_counts
from phantom_lib.behaviour.kernels import Kernel, sample_paths
from phantom_lib.behaviour.separation import mann_whitney

MAX_DRAWS_PER_PATH = 100
"""Draws per wanted trajectory before giving up on a kernel that rarely makes 2-event ones."""


@dataclass(frozen=True)
class PowerConfig(Validated):
    """Settings of the power simulation.

    Attributes:
        n_human, n_agent: cohort sizes (scorable trajectories per class); the published 13, 16.
        alpha: significance level of the two-sided test.
        target: power the MDE must reach.
        n_rep: simulated cohorts per (effect, size) point.
        effects: the deltas of the power curve, each in [0, 1].
        max_len: L_max, the most events a sampled trajectory holds.
        loo: leave-one-out centroids (as in the analysis) or in-sample ones.
        seed: seed of the numpy generators. Every effect of a curve reuses one stream (common
            random numbers), so neighbouring points differ by the effect more than by noise.
    """

    n_human: int = 13
    n_agent: int = 16
    alpha: float = 0.05
    target: float = 0.8
    n_rep: int = 200
    effects: tuple[float, ...] = field(default=tuple(np.round(np.linspace(0.0, 1.0, 11), 2)))
    max_len: int = 40
    loo: bool = True
    seed: int = 0

    _parameter_constraints = {
        "n_human": (Integer(low=1),),
        "n_agent": (Integer(low=1),),
        "n_rep": (Integer(low=1),),
        "alpha": (Real(low=0, high=1, low_open=True, high_open=True),),
        "target": (Real(low=0, high=1, low_open=True, high_open=True),),
        "effects": (Each(Real(low=0, high=1)),),
        "max_len": (Integer(low=MIN_EVENTS),),
        "loo": (Boolean(),),
        "seed": (Integer(low=0),),
    }

    def __post_init__(self) -> None:
        self.validate()
        object.__setattr__(self, "effects", tuple(float(e) for e in self.effects))


def mix(human: Kernel, agent: Kernel, effect: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(matrix, pi0)`` of T_delta = (1 - delta) T_H + delta T_A, delta = ``effect`` in [0, 1]."""
    if human.labels != agent.labels:
        raise ValueError("the human and agent kernels must share one state order; use kernels.estimate_by_class")
    if not 0 <= effect <= 1:
        raise ValueError(f"effect must lie in [0, 1]; got {effect}")
    return (1 - effect) * human.matrix + effect * agent.matrix, (1 - effect) * human.pi0 + effect * agent.pi0


def sample_scorable(
    matrix: npt.NDArray[np.float64], pi0: npt.NDArray[np.float64], n: int, rng: np.random.Generator,
    max_len: int, end: int,
) -> npt.NDArray[np.int64]:
    """``n`` sampled paths (n, max_len) with at least 2 events each (shorter ones redrawn)."""
    kept: list[npt.NDArray[np.int64]] = []
    have, drawn, budget = 0, 0, max(MAX_DRAWS_PER_PATH * n, 10_000)
    while have < n:
        if drawn >= budget:
            raise ValueError(
                f"the kernel gave only {have} of {n} trajectories with >= {MIN_EVENTS} events in {drawn} draws; "
                "it ends sessions after one event almost always, so no cohort of that size can be simulated"
            )
        batch = min(budget - drawn, max(16, int(1.2 * (n - have) * (drawn + 1) / (have + 1))))
        paths = sample_paths(matrix, pi0, batch, rng, max_len=max_len, end=end)
        good = paths[(paths >= 0).sum(axis=1) >= MIN_EVENTS]
        kept.append(good)
        have, drawn = have + len(good), drawn + batch
    return np.concatenate(kept)[:n]


def simulate_p_values(
    human: Kernel, agent: Kernel, effect: float, n_human: int, n_agent: int, config: PowerConfig,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float64], float]:
    """Mann-Whitney p-values of ``config.n_rep`` simulated cohorts (``n_human`` trajectories from
    T_H, ``n_agent`` from T_delta, delta = ``effect``), scored as the real cohort is.

    Returns ``(p, unscored)``: p (n_rep,), and the mean number of trajectories per cohort that
    shared no source event with a centroid (left out of their cohort's test).
    """
    matrix, pi0 = mix(human, agent, effect)
    r, s, length = config.n_rep, human.n_states, config.max_len
    paths = np.concatenate(
        [
            sample_scorable(human.matrix, human.pi0, r * n_human, rng, length, human.end).reshape(r, n_human, length),
            sample_scorable(matrix, pi0, r * n_agent, rng, length, human.end).reshape(r, n_agent, length),
        ],
        axis=1,
    )
    n = n_human + n_agent
    counts = pair_counts(paths.reshape(r * n, length), s).reshape(r, n, s, s)
    is_agent = np.arange(n) >= n_human
    delta_h, delta_a = class_gaps(counts, np.broadcast_to(is_agent, (r, n)), config.loo)
    gap = delta_h - delta_a
    finite = np.isfinite(gap)
    full = finite.all(axis=1)
    p = np.ones(r)
    if full.any():
        p[full] = mann_whitney(gap[full][:, is_agent], gap[full][:, ~is_agent]).p
    for i in np.flatnonzero(~full):
        a, h = gap[i, is_agent & finite[i]], gap[i, ~is_agent & finite[i]]
        if a.size and h.size:
            p[i] = float(mann_whitney(a, h).p)
    return p, float((~finite).sum() / r)


def calibrated_threshold(null_p: npt.ArrayLike, alpha: float) -> float:
    """The largest p-value threshold t with P_null(p <= t) <= alpha on simulated null p-values
    (``-inf`` when even the smallest null p-value is too frequent)."""
    null = np.sort(np.asarray(null_p, dtype=float))
    values = np.unique(null)
    share = np.searchsorted(null, values, side="right") / null.size
    ok = values[share <= alpha]
    return float(ok.max()) if ok.size else -np.inf


def _power_rows(
    human: Kernel, agent: Kernel, effects: Sequence[float], n_human: int, n_agent: int, config: PowerConfig
) -> list[dict[str, float]]:
    seeds = np.random.SeedSequence([config.seed, n_human, n_agent]).spawn(2)
    null_p, _ = simulate_p_values(human, agent, 0.0, n_human, n_agent, config, np.random.default_rng(seeds[0]))
    threshold = calibrated_threshold(null_p, config.alpha)
    rows = []
    for effect in effects:
        p, unscored = simulate_p_values(
            human, agent, float(effect), n_human, n_agent, config, np.random.default_rng(seeds[1])
        )
        power = float(np.mean(p <= config.alpha))
        rows.append(
            {
                "effect": float(effect),
                "power": power,
                "se": float(np.sqrt(power * (1 - power) / config.n_rep)),
                "power_calibrated": float(np.mean(p <= threshold)),
                "unscored": unscored,
            }
        )
    return rows


def power_curve(human: Kernel, agent: Kernel, config: PowerConfig | None = None) -> pd.DataFrame:
    """Power at the configured cohort sizes, one row per effect in ``config.effects``.

    Columns: ``effect``; ``power``, the share of simulated cohorts with Mann-Whitney p <= alpha,
    and its binomial standard error ``se``; ``power_calibrated``, the share with p <= the
    threshold at which an independent simulation of the null (effect 0) rejects at most alpha
    (the power of a test whose size is truly alpha, since the gaps of one cohort share centroids
    and the nominal test need not hold its size); ``unscored``, mean trajectories per cohort left
    out. Every effect reuses one random stream (common random numbers).
    """
    config = config or PowerConfig()
    return pd.DataFrame(_power_rows(human, agent, config.effects, config.n_human, config.n_agent, config))


def minimum_detectable_effect(curve: pd.DataFrame, target: float = 0.8) -> float | None:
    """Smallest effect whose power reaches ``target``, interpolated linearly between the grid
    points around the first crossing; ``None`` if no effect of the curve reaches it."""
    effect = curve["effect"].to_numpy(dtype=float)
    power = curve["power"].to_numpy(dtype=float)
    order = np.argsort(effect)
    effect, power = effect[order], power[order]
    above = np.flatnonzero(power >= target)
    if above.size == 0:
        return None
    i = above[0]
    if i == 0:
        return float(effect[0])
    e0, e1, p0, p1 = effect[i - 1], effect[i], power[i - 1], power[i]
    return float(e0 + (target - p0) * (e1 - e0) / (p1 - p0))


def power_by_size(
    human: Kernel, agent: Kernel, sizes: Sequence[int], effects: Sequence[float], config: PowerConfig | None = None
) -> pd.DataFrame:
    """:func:`power_curve` for balanced cohorts of n trajectories per class, for each n in
    ``sizes``: one row per (``n_per_class``, ``effect``)."""
    config = config or PowerConfig()
    frames = []
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
            raise ValueError(f"power_by_size sizes must be integers >= 2 (per class); got {n!r}")
        rows = _power_rows(human, agent, effects, int(n), int(n), config)
        frames.append(pd.DataFrame(rows).assign(n_per_class=int(n)))
    out = pd.concat(frames, ignore_index=True)
    return out[["n_per_class", *[c for c in out.columns if c != "n_per_class"]]]
