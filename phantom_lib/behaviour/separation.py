"""Cohort statistics of the gap scores (Model reference, section 4): the human-vs-agent test and the
weak agent probability f used as a classifier.

Every function takes the agent and human samples (or scores with a 0/1 class vector) as plain
arrays; gaps and f are in the units of :mod:`phantom_lib.behaviour.distinguish` (nats, probability).
Random resampling takes the caller's :class:`numpy.random.Generator`; :func:`cohort_test`
derives independent streams for the bootstrap and the permutation test from one seed, so each is
reproducible on its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, stats

from phantom_lib._arrays import FloatArray
from phantom_lib._validation import (
    Integer,
    Real,
    Validated,
)
from phantom_lib.behaviour.distinguish import EPS, Scores, agent_probability, class_gaps
from phantom_lib.published import DISTINGUISHABILITY

STREAMS = ("median", "permutation", "auc", "rescoring")
"""The independent random streams of one :class:`CohortConfig` (see :meth:`CohortConfig.generator`)."""

PROB_CLIP = 1e-15
"""f is clipped to [PROB_CLIP, 1 - PROB_CLIP] in the log loss."""


def _positive_int(owner: str, name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{owner}.{name} must be an integer >= {minimum}; got {value!r}")


@dataclass(frozen=True)
class CohortConfig(Validated):
    """Resampling settings of the cohort test.

    Attributes:
        n_boot: bootstrap resamples for the CIs of the median difference and of the AUC.
        n_perm: label permutations of the permutation test.
        confidence: level of the percentile CIs, in (0, 1).
        seed: seed of the numpy generators (bootstrap and permutation streams are spawned from it).
    """

    n_boot: int = 2000
    n_perm: int = 2000
    confidence: float = 0.95
    seed: int = 0

    _parameter_constraints = {
        "n_boot": (Integer(low=1),),
        "n_perm": (Integer(low=1),),
        "confidence": (Real(low=0, high=1, low_open=True, high_open=True),),
        "seed": (Integer(low=0),),
    }

    def generator(self, stream: str) -> np.random.Generator:
        """An independent generator per use, from ``seed``: one of :data:`STREAMS`."""
        if stream not in STREAMS:
            raise ValueError(f"unknown random stream {stream!r}; choose one of {STREAMS}")
        return np.random.default_rng(np.random.SeedSequence(self.seed).spawn(len(STREAMS))[STREAMS.index(stream)])


def split(values: npt.ArrayLike, is_agent: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(agent, human)`` samples of ``values`` (n,) by the 0/1 class vector ``is_agent`` (n,).

    Raises ``ValueError`` for mismatched lengths, non-finite values or an empty class.
    """
    x = np.asarray(values, dtype=float)
    y = np.asarray(is_agent)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"values and is_agent must be 1-D of one length; got shapes {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(
            f"values has {int((~np.isfinite(x)).sum())} non-finite entries; drop unscored trajectories first"
        )
    if not np.isin(y, (0, 1)).all():
        raise ValueError("is_agent must hold only 0/1 (or False/True)")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError(f"need both classes; got {int(y.sum())} agents and {int((~y).sum())} humans")
    return x[y], x[~y]


def u_statistic(agent: npt.ArrayLike, human: npt.ArrayLike) -> FloatArray:
    """Mann-Whitney U of the agent sample: pairs (a, h) with a > h, ties counted 1/2.

    ``agent`` (..., n_a) and ``human`` (..., n_h) along the last axis; returns shape (...).
    Computed from mid-ranks of the pooled sample (O(n log n)): U = rank sum of the agents
    - n_a (n_a + 1) / 2.
    """
    pooled, n_a = _pooled(agent, human)
    return stats.rankdata(pooled, axis=-1)[..., :n_a].sum(axis=-1) - n_a * (n_a + 1) / 2


def _pooled(agent: npt.ArrayLike, human: npt.ArrayLike) -> tuple[FloatArray, int]:
    """Agents then humans along the last axis (leading axes broadcast), and n_a."""
    a = np.asarray(agent, dtype=float)
    h = np.asarray(human, dtype=float)
    batch = np.broadcast_shapes(a.shape[:-1], h.shape[:-1])
    pooled = np.concatenate([np.broadcast_to(a, batch + a.shape[-1:]), np.broadcast_to(h, batch + h.shape[-1:])], -1)
    return pooled, a.shape[-1]


@dataclass(frozen=True)
class MannWhitney:
    """Two-sided Mann-Whitney U test of agent vs human values.

    Attributes:
        u: U of the agent sample (pairs with agent > human, ties 1/2); U_human = n_a n_h - u.
        p: two-sided p-value: scipy's exact null distribution when the pooled sample has no
            ties, otherwise the normal approximation with tie and continuity corrections.
        method: ``"exact"`` or ``"asymptotic"``, per test.
        rank_biserial: effect size 2 U / (n_a n_h) - 1 in [-1, 1] (> 0: agents score higher).
    """

    u: FloatArray
    p: FloatArray
    method: npt.NDArray[np.str_]
    rank_biserial: FloatArray


def mann_whitney(agent: npt.ArrayLike, human: npt.ArrayLike) -> MannWhitney:
    """Test along the last axis; leading axes are independent tests (e.g. simulated cohorts)."""
    a = np.asarray(agent, dtype=float)
    h = np.asarray(human, dtype=float)
    if a.shape[-1] < 1 or h.shape[-1] < 1:
        raise ValueError(f"each sample needs at least one value; got {a.shape[-1]} agents and {h.shape[-1]} humans")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(h))):
        raise ValueError("Mann-Whitney samples must be finite; drop unscored trajectories first")
    u = u_statistic(a, h)
    ties = (np.diff(np.sort(_pooled(a, h)[0], axis=-1), axis=-1) == 0).any(axis=-1)
    exact = stats.mannwhitneyu(a, h, axis=-1, alternative="two-sided", method="exact").pvalue
    asymptotic = stats.mannwhitneyu(a, h, axis=-1, alternative="two-sided", method="asymptotic").pvalue
    p = np.where(ties, asymptotic, exact)
    method = np.where(ties, "asymptotic", "exact")
    return MannWhitney(u, p, method, 2.0 * u / (a.shape[-1] * h.shape[-1]) - 1.0)


def group_summary(values: npt.ArrayLike, is_agent: npt.ArrayLike) -> pd.DataFrame:
    """n, mean, std (ddof 0, as published) and median per class; index ``["human", "agent"]``."""
    agent, human = split(values, is_agent)
    rows = {
        name: {"n": len(x), "mean": x.mean(), "std": x.std(ddof=0), "median": np.median(x)}
        for name, x in (("human", human), ("agent", agent))
    }
    return pd.DataFrame.from_dict(rows, orient="index").astype({"n": int})


def _percentiles(draws: FloatArray, confidence: float) -> tuple[float, float]:
    lo, hi = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def bootstrap_median_difference(
    agent: npt.ArrayLike, human: npt.ArrayLike, n_boot: int, rng: np.random.Generator, confidence: float = 0.95
) -> tuple[float, float, float]:
    """median(agent) - median(human) and its percentile bootstrap CI (each class resampled
    with replacement on its own). Returns ``(estimate, low, high)``."""
    a = np.asarray(agent, dtype=float)
    h = np.asarray(human, dtype=float)
    draws = np.median(a[rng.integers(0, a.size, (n_boot, a.size))], axis=1) - np.median(
        h[rng.integers(0, h.size, (n_boot, h.size))], axis=1
    )
    return (float(np.median(a) - np.median(h)), *_percentiles(draws, confidence))


def permutation_test(
    agent: npt.ArrayLike, human: npt.ArrayLike, n_perm: int, rng: np.random.Generator
) -> dict[str, float]:
    """Two-sided permutation p-values of U (a Monte Carlo check of the Mann-Whitney p) and of the
    difference in means, from ``n_perm`` relabellings: p = (1 + #{|T*| >= |T|}) / (1 + n_perm)."""
    a = np.asarray(agent, dtype=float)
    h = np.asarray(human, dtype=float)
    pooled = np.concatenate([a, h])
    labels = np.zeros(pooled.size, dtype=bool)
    labels[: a.size] = True
    perms = rng.permuted(np.tile(labels, (n_perm, 1)), axis=1)
    ranks = stats.rankdata(pooled)
    offset = a.size * (a.size + 1) / 2
    centre = a.size * h.size / 2
    u_obs = abs(ranks[labels].sum() - offset - centre)
    u_perm = np.abs(perms @ ranks - offset - centre)
    mean_obs = abs(a.mean() - h.mean())
    mean_perm = np.abs((perms @ pooled) / a.size - ((~perms) @ pooled) / h.size)
    tol = 1e-12 * max(1.0, np.abs(pooled).max())

    def p_value(perm: FloatArray, obs: float) -> float:
        return float((1 + np.sum(perm >= obs - tol)) / (1 + n_perm))

    return {"p_u": p_value(u_perm, u_obs), "p_mean": p_value(mean_perm, mean_obs)}


def rescoring_permutation_test(
    counts: FloatArray,
    is_agent: npt.ArrayLike,
    n_perm: int,
    rng: np.random.Generator,
    loo: bool = True,
    eps: float = EPS,
    batch: int = 256,
) -> dict[str, float]:
    """Permutation test of the whole pipeline: relabel, re-estimate both centroids, re-score.

    The gaps of one cohort share their centroids, so they are not independent and their
    distribution under "no difference" need not be centred (leave-one-out centroids hold one
    trajectory fewer for the own class than for the other). Relabelling the trajectories and
    recomputing everything gives the statistic's null distribution with that dependence and
    bias included. Statistic: AUC of the gaps (U / (n_a n_h), trajectories with an undefined gap
    left out).

    Args:
        counts: (n, E, E) pair counts of the cohort's trajectories.
        is_agent: (n,) 0/1 classes.
        n_perm: relabellings; rng: the caller's generator; loo, eps: as in the scoring.
        batch: relabellings scored at once (memory ~ batch * n * E * E floats).

    Returns:
        ``auc`` (observed), ``null_mean`` (mean AUC over relabellings; 0.5 if unbiased) and the
        two-sided ``p`` = min(1, 2 min(P(AUC* >= AUC), P(AUC* <= AUC))) with the +1 correction.
    """
    labels = np.asarray(is_agent).astype(bool)
    counts = np.asarray(counts, dtype=float)

    def aucs(classes: npt.NDArray[np.bool_]) -> FloatArray:
        delta_h, delta_a = class_gaps(counts[None], classes, loo, eps)
        gap = delta_h - delta_a
        finite = np.isfinite(gap)
        pairs = (classes & finite)[:, :, None] & (~classes & finite)[:, None, :]
        diff = np.where(pairs, gap[:, :, None] - gap[:, None, :], np.nan)
        u = (diff > 0).sum(axis=(1, 2)) + 0.5 * (diff == 0).sum(axis=(1, 2))
        n_pairs = pairs.sum(axis=(1, 2))
        return np.divide(u, n_pairs, out=np.full(u.shape, 0.5), where=n_pairs > 0)

    split(np.zeros(labels.size), labels)  # validates the classes
    observed = float(aucs(labels[None])[0])
    draws = np.concatenate(
        [
            aucs(rng.permuted(np.tile(labels, (min(batch, n_perm - start), 1)), axis=1))
            for start in range(0, n_perm, batch)
        ]
    )
    tol = 1e-12
    upper = (1 + np.sum(draws >= observed - tol)) / (1 + n_perm)
    lower = (1 + np.sum(draws <= observed + tol)) / (1 + n_perm)
    return {"auc": observed, "null_mean": float(draws.mean()), "p": float(min(1.0, 2 * min(upper, lower)))}


@dataclass(frozen=True)
class CohortTest:
    """The human-vs-agent comparison of one score (the gap).

    Attributes:
        summary: :func:`group_summary` of the score.
        test: the Mann-Whitney test (scalars).
        median_difference: median(agent) - median(human) and its bootstrap CI ``(low, high)``.
        permutation: permutation p-values of the gaps ``{"p_u", "p_mean"}``.
        config: the resampling settings.
        rescoring: :func:`rescoring_permutation_test` of the whole pipeline, when the pair
            counts were given (:func:`compare_scores`).
    """

    summary: pd.DataFrame
    test: MannWhitney
    median_difference: float
    median_ci: tuple[float, float]
    permutation: dict[str, float]
    config: CohortConfig
    rescoring: dict[str, float] | None = None

    def table(self) -> pd.DataFrame:
        """The test as one column of named statistics (for display)."""
        s = self.summary
        lo, hi = self.median_ci
        level = f"{self.config.confidence:.0%}"
        rows = {
            "n human / agent": f"{s.loc['human', 'n']} / {s.loc['agent', 'n']}",
            "human mean +/- std (ddof 0)": f"{s.loc['human', 'mean']:.2f} +/- {s.loc['human', 'std']:.2f}",
            "agent mean +/- std (ddof 0)": f"{s.loc['agent', 'mean']:.2f} +/- {s.loc['agent', 'std']:.2f}",
            "median human / agent": f"{s.loc['human', 'median']:.2f} / {s.loc['agent', 'median']:.2f}",
            f"median difference (agent - human), {level} bootstrap "
            f"CI": f"{self.median_difference:.2f} [{lo:.2f}, {hi:.2f}]",
            "Mann-Whitney U (agents)": f"{float(self.test.u):.1f}",
            f"two-sided p ({self.test.method})": f"{float(self.test.p):.2e}",
            "rank-biserial r": f"{float(self.test.rank_biserial):.3f}",
            f"permutation p, U ({self.config.n_perm} relabellings)": f"{self.permutation['p_u']:.2e}",
            "permutation p, mean difference": f"{self.permutation['p_mean']:.2e}",
        }
        if self.rescoring is not None:
            r = self.rescoring
            rows["re-scoring permutation p (AUC; null mean)"] = f"{r['p']:.2e} ({r['null_mean']:.3f})"
        return pd.DataFrame({"value": rows})


def cohort_test(values: npt.ArrayLike, is_agent: npt.ArrayLike, config: CohortConfig | None = None) -> CohortTest:
    """Compare agents with humans on ``values`` (n,) (the gaps), classes in ``is_agent`` (n,)."""
    config = config or CohortConfig()
    agent, human = split(values, is_agent)
    mw = mann_whitney(agent, human)
    test = MannWhitney(float(mw.u), float(mw.p), str(mw.method), float(mw.rank_biserial))
    diff, lo, hi = bootstrap_median_difference(
        agent, human, config.n_boot, config.generator("median"), config.confidence
    )
    perm = permutation_test(agent, human, config.n_perm, config.generator("permutation"))
    return CohortTest(group_summary(values, is_agent), test, diff, (lo, hi), perm, config)


def compare_scores(scores: Scores, config: CohortConfig | None = None) -> CohortTest:
    """:func:`cohort_test` of the gaps of scored trajectories, plus the re-scoring permutation
    test on their pair counts (same centroid variant and eps as the scoring)."""
    config = config or CohortConfig()
    is_agent = scores.frame["is_agent"].to_numpy()
    result = cohort_test(scores.frame["gap"].to_numpy(), is_agent, config)
    rescoring = rescoring_permutation_test(
        scores.counts, is_agent, config.n_perm, config.generator("rescoring"), scores.config.loo, scores.config.eps
    )
    return dataclasses.replace(result, rescoring=rescoring)


# --------------------------------------------------------------------------------------------
# f as a classifier of agents.


def auc(scores: npt.ArrayLike, is_agent: npt.ArrayLike) -> float:
    """Area under the ROC curve = P(agent score > human score) + P(tie)/2 = U / (n_a n_h)."""
    agent, human = split(scores, is_agent)
    return float(u_statistic(agent, human)) / (agent.size * human.size)


def auc_bootstrap(
    scores: npt.ArrayLike, is_agent: npt.ArrayLike, n_boot: int, rng: np.random.Generator, confidence: float = 0.95
) -> tuple[float, float, float]:
    """AUC and its percentile bootstrap CI, each class resampled on its own (the scores stay
    fixed: the CI covers the sampling of trajectories, not the re-estimation of centroids).
    Returns ``(auc, low, high)``."""
    agent, human = split(scores, is_agent)
    draws = u_statistic(
        agent[rng.integers(0, agent.size, (n_boot, agent.size))],
        human[rng.integers(0, human.size, (n_boot, human.size))],
    ) / (agent.size * human.size)
    return (auc(scores, is_agent), *_percentiles(draws, confidence))


def roc_curve(scores: npt.ArrayLike, is_agent: npt.ArrayLike) -> pd.DataFrame:
    """ROC points (agents = positives), one per distinct score plus the origin:
    ``threshold`` (predict agent when score >= threshold), ``fpr``, ``tpr``."""
    agent, human = split(scores, is_agent)
    pooled, n_a = _pooled(agent, human)
    order = np.argsort(-pooled, kind="stable")
    ranked = pooled[order]
    positives = np.cumsum(order < n_a)
    last = np.concatenate([np.flatnonzero(np.diff(ranked) != 0), [ranked.size - 1]])  # end of each distinct score
    return pd.DataFrame(
        {
            "threshold": np.concatenate([[np.inf], ranked[last]]),
            "fpr": np.concatenate([[0.0], (last + 1 - positives[last]) / human.size]),
            "tpr": np.concatenate([[0.0], positives[last] / agent.size]),
        }
    )


def reliability(f: npt.ArrayLike, is_agent: npt.ArrayLike, n_bins: int = 5) -> pd.DataFrame:
    """Reliability (calibration) data of probabilities ``f`` in [0, 1]: equal-width bins, with
    ``low``, ``high``, ``n``, ``mean_f`` (mean predicted) and ``agent_rate`` (observed share of
    agents); empty bins are dropped."""
    _positive_int("reliability", "n_bins", n_bins, 1)
    p = np.asarray(f, dtype=float)
    y = np.asarray(is_agent, dtype=float)
    split(p, is_agent)  # validates
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"f must lie in [0, 1]; got values in [{p.min()}, {p.max()}]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    n = np.bincount(which, minlength=n_bins)
    keep = n > 0
    mean_f = np.bincount(which, weights=p, minlength=n_bins)[keep] / n[keep]
    rate = np.bincount(which, weights=y, minlength=n_bins)[keep] / n[keep]
    return pd.DataFrame(
        {"low": edges[:-1][keep], "high": edges[1:][keep], "n": n[keep], "mean_f": mean_f, "agent_rate": rate}
    )


def calibration_losses(f: npt.ArrayLike, is_agent: npt.ArrayLike) -> dict[str, float]:
    """Brier score (mean squared error of f) and log loss (nats per trajectory) of f."""
    p = np.asarray(f, dtype=float)
    y = np.asarray(is_agent, dtype=float)
    split(p, is_agent)
    clipped = np.clip(p, PROB_CLIP, 1 - PROB_CLIP)
    log_loss = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    return {"brier": float(np.mean((p - y) ** 2)), "log_loss": float(log_loss)}


def temperature_scan(gap: npt.ArrayLike, is_agent: npt.ArrayLike, temperatures: npt.ArrayLike) -> pd.DataFrame:
    """Brier score and log loss of f = sigmoid(gap / T) for each T (> 0, nats); the AUC does not
    depend on T (f is monotone in the gap) and is repeated as a check."""
    rows = []
    area = auc(gap, is_agent)
    for t in np.asarray(temperatures, dtype=float):
        losses = calibration_losses(agent_probability(gap, float(t)), is_agent)
        rows.append({"temperature": float(t), **losses, "auc": area})
    return pd.DataFrame(rows)


def best_temperature(
    gap: npt.ArrayLike, is_agent: npt.ArrayLike, bounds: tuple[float, float] = (1e-2, 1e3)
) -> float | None:
    """The T (nats) minimising the log loss of f on these trajectories (in-sample; searched on
    log T within ``bounds``), or ``None`` when the minimum sits at a bound: the loss keeps falling
    as T grows (the gaps carry no calibrated signal; f -> 0.5 is best) or as T shrinks (the classes
    are separated perfectly; f -> 0/1 is best)."""
    split(gap, is_agent)
    lo, hi = np.log(bounds)

    def loss(log_t: float) -> float:
        return calibration_losses(agent_probability(gap, float(np.exp(log_t))), is_agent)["log_loss"]

    res = optimize.minimize_scalar(loss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    margin = 0.01 * (hi - lo)
    return None if res.x < lo + margin or res.x > hi - margin else float(np.exp(res.x))


def paper_vs_book(tests: dict[str, CohortTest], class_kl: float) -> pd.DataFrame:
    """The published findings (:data:`phantom_lib.published.DISTINGUISHABILITY`, quoted) beside this book's, one
    column per
    scoring variant in ``tests`` (e.g. ``{"leave-one-out": ..., "in-sample": ...}``);
    ``class_kl`` is this book's mean KL(T_H || T_A) over shared source events (nats)."""
    pub = DISTINGUISHABILITY

    def cell(mean: float, std: float, n: int) -> str:
        return f"{mean:+.2f} +/- {std:.2f} (n = {n})"

    columns = {
        "paper (published, real data)": [
            cell(pub["human_mean"], pub["human_std"], pub["n_human"]),
            cell(pub["agent_mean"], pub["agent_std"], pub["n_agent"]),
            f"< {pub['p_below']:g}",
            "not published",
            "not published",
            f"about {pub['class_kl']:g}",
        ]
    }
    for name, test in tests.items():
        s = test.summary
        columns[f"this book: {name}"] = [
            cell(s.loc["human", "mean"], s.loc["human", "std"], int(s.loc["human", "n"])),
            cell(s.loc["agent", "mean"], s.loc["agent", "std"], int(s.loc["agent", "n"])),
            f"{float(test.test.p):.2g} ({test.test.method})",
            f"{float(test.test.u):.1f}",
            "—" if test.rescoring is None else f"{test.rescoring['p']:.2g}",
            f"{class_kl:.2f}",
        ]
    index = [
        "human gap, mean +/- std (ddof 0)",
        "agent gap, mean +/- std (ddof 0)",
        "two-sided Mann-Whitney p",
        "Mann-Whitney U (agents)",
        "re-scoring permutation p",
        "mean KL(T_H || T_A) over shared sources (nats)",
    ]
    return pd.DataFrame(columns, index=index)
