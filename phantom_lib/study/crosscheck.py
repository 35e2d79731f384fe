"""Cross-check of the two engines: SB3 and JAX training of the same learner on the same cells and seeds.

Both engines train ``algorithm`` (PPO by default) on each cell x seed with the same settings and
evaluate it with the same protocol (:mod:`phantom_lib.study.evaluate`); the ``best_fixed``
reference policy (the constant price scale with the best search reward) is evaluated on each cell
and seed as the anchor. The engines use different random streams (numpy generators vs JAX keys),
so seeds are not paired across engines: agreement is judged by Welch intervals of the difference
of engine means per cell, and each engine's revenue is reported relative to best_fixed's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from phantom_lib.study.analysis import seed_ci
from phantom_lib.study.designs import Trial
from phantom_lib.study.jax_engine import batches, run_batch
from phantom_lib.study.learners import train

CELL_KEYS = ("alpha0", "eps_alpha", "lambda_coi")
"""What identifies a cell in the cross-check tables."""


def crosscheck_trials(cells: Sequence[Mapping[str, Any]], seeds: Sequence[int], settings: Mapping[str, Any],
                      algorithm: str = "ppo", batch_size: int | None = None) -> pd.DataFrame:
    """Train ``algorithm`` with both engines and evaluate ``best_fixed`` on every cell x seed.

    Args:
        cells: dicts with alpha0, eps_alpha and lambda_coi. seeds: training seeds.
        settings: the other trial settings (timesteps, action_levels, env sizes, ...).
        batch_size: jax batch size (default: every trial of a slice in one batch).

    Returns:
        one row per (engine, cell, seed) with ``engine`` in {sb3, jax, best_fixed}, the cell,
        the seed and every metric of :func:`phantom_lib.study.learners.train`.
    """
    learner_trials = [Trial({**settings, **cell, "algorithm": algorithm}, seed) for cell in cells for seed in seeds]
    rows = [{"engine": "sb3", **t.config, "seed": t.seed, **train(t.config, t.seed)} for t in learner_trials]
    for batch in batches(learner_trials, batch_size or len(learner_trials)):
        metrics, _ = run_batch(batch, batch_size or len(batch))
        rows += [{"engine": "jax", **t.config, "seed": t.seed, **m} for t, m in zip(batch, metrics)]
    for cell in cells:
        reference = {**settings, **cell, "algorithm": "best_fixed", "variant": "reference", "eps_alpha": 0.0,
                     "n_candidates": 1}
        rows += [{"engine": "best_fixed", **reference, "eps_alpha": cell["eps_alpha"], "seed": seed,
                  **train(reference, seed)} for seed in seeds]
    return pd.DataFrame(rows)


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """mean(a) - mean(b) and its Welch t interval ``(difference, low, high)``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = float(a.mean() - b.mean())
    if va + vb == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof) * np.sqrt(va + vb))
    return diff, diff - half, diff + half


def crosscheck_summary(trials: pd.DataFrame, metrics: Sequence[str] = ("revenue", "reward")) -> pd.DataFrame:
    """Per cell and metric: each engine's mean with a 95 % t interval over seeds, the Welch interval
    of jax - sb3 (``agree``: it contains 0), and each engine's mean revenue as % of best_fixed's."""
    out = []
    for cell, group in trials.groupby(list(CELL_KEYS)):
        by = {engine: g for engine, g in group.groupby("engine")}
        anchor = by["best_fixed"]["revenue"].mean()
        for metric in metrics:
            row: dict[str, Any] = dict(zip(CELL_KEYS, cell), metric=metric)
            for engine in ("sb3", "jax", "best_fixed"):
                ci = seed_ci(by[engine][metric])
                row.update({f"{engine}_mean": ci["mean"], f"{engine}_low": ci["ci_low"], f"{engine}_high": ci["ci_high"]})
            diff, low, high = welch_interval(by["jax"][metric], by["sb3"][metric])
            row.update(jax_minus_sb3=diff, diff_low=low, diff_high=high, agree=bool(low <= 0 <= high))
            if metric == "revenue":
                row.update(sb3_pct_of_best_fixed=100 * row["sb3_mean"] / anchor,
                           jax_pct_of_best_fixed=100 * row["jax_mean"] / anchor)
            out.append(row)
    return pd.DataFrame(out)
