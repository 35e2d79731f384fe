"""Cross-check of the two engines: SB3 and JAX training of the same learner on the same cells and seeds.

Both engines train ``algorithm`` (PPO by default) on each cell x seed with the same settings and
evaluate it with the same protocol (:mod:`phantom_lib.study.sb3.evaluate`). The anchor is the
``best_fixed`` reference policy (the constant price scale with the best search reward, searched
in the numpy env): its action is evaluated in each engine's evaluation envs with that engine's
evaluation randomness (``best_fixed_sb3``: the numpy env, as the SB3 path evaluates;
``best_fixed_jax``: :func:`~phantom_lib.study.jax.engine.evaluate_constant`), so each engine is
compared with the anchor on common random numbers. The engines themselves use different random
streams (numpy generators vs JAX keys), so their seeds are not paired: their agreement is judged
by Welch intervals of the difference of engine means per cell.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from phantom_lib.study.analysis.estimands import seed_ci
from phantom_lib.study.design import vcs
from phantom_lib.study.design.designs import Trial, TrialConfig
from phantom_lib.study.design.manifest import write_manifest
from phantom_lib.study.design.store import (
    REPO_ROOT,
    data_provenance,
    machine,
    software_versions,
)
from phantom_lib.study.jax.engine import batches, evaluate_constant, run_batch
from phantom_lib.study.sb3.evaluate import evaluate
from phantom_lib.study.sb3.learners import train
from phantom_lib.study.sb3.policies import ConstantPolicy, reference_policy

CELL_KEYS = ("alpha0", "eps_alpha", "lambda_coi")
"""What identifies a cell in the cross-check tables."""

ENGINES = ("sb3", "jax")


def crosscheck_trials(cells: Sequence[Mapping[str, Any]], seeds: Sequence[int], settings: Mapping[str, Any],
                      algorithm: str = "ppo", batch_size: int | None = None) -> pd.DataFrame:
    """Train ``algorithm`` with both engines and evaluate the ``best_fixed`` anchor in both, on every cell x seed.

    Args:
        cells: dicts with alpha0, eps_alpha and lambda_coi. seeds: training seeds.
        settings: the other trial settings (timesteps, action_levels, env sizes, ...).
        batch_size: jax batch size (default: every trial of a slice in one batch).

    Returns:
        one row per (engine, cell, seed), ``engine`` in {sb3, jax, best_fixed_sb3, best_fixed_jax}:
        the cell, the seed, the evaluation metrics (and, for the learners, the training figures);
        ``action`` is best_fixed's constant action; ``program_k`` (jax rows) the candidate shares
        the compiled program drew per step (:func:`~phantom_lib.study.jax.engine.slice_key`);
        ``xla_options`` (jax and best_fixed_jax rows) the programs' XLA options, JSON, and
        ``pool_mb`` the memory cap of their market pools' spacing blocks (MB).
    """
    trials = [Trial({**settings, **cell, "algorithm": algorithm}, seed) for cell in cells for seed in seeds]
    rows = [{"engine": "sb3", **t.config, "seed": t.seed, **train(t.config, t.seed)} for t in trials]
    actions = {}
    for t in trials:
        reference = TrialConfig.from_mapping({**t.config, "algorithm": "best_fixed", "variant": "reference",
                                              "eps_alpha": 0.0, "n_candidates": 1})
        policy = reference_policy(reference, t.seed)
        if not isinstance(policy, ConstantPolicy):
            raise TypeError(f"best_fixed must be a constant price scale; got {type(policy).__name__}")
        actions[t.trial_id] = policy.action
        own = TrialConfig.from_mapping(t.config)  # the learner's evaluation envs (its eps_alpha in the observation)
        rows.append({"engine": "best_fixed_sb3", **t.config, "seed": t.seed, "action": policy.action,
                     **evaluate(policy, own, t.seed)})
    for batch in batches(trials, batch_size or len(trials)):
        metrics, record = run_batch(batch, batch_size or len(batch))
        options = json.dumps(record.xla_options, sort_keys=True)
        rows += [{"engine": "jax", **t.config, "seed": t.seed, "program_k": record.slice["n_candidates"],
                  "xla_options": options, "pool_mb": record.pool_mb, **m} for t, m in zip(batch, metrics)]
        fixed = evaluate_constant(batch, [actions[t.trial_id] for t in batch], batch_size or len(batch),
                                  xla_options=record.xla_options, pool_mb=record.pool_mb)
        rows += [{"engine": "best_fixed_jax", **t.config, "seed": t.seed, "action": actions[t.trial_id],
                  "xla_options": options, "pool_mb": record.pool_mb, **m} for t, m in zip(batch, fixed)]
    return pd.DataFrame(rows)


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """mean(a) - mean(b) and its Welch t interval ``(difference, low, high)``."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    diff = float(x.mean() - y.mean())
    if va + vb == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof) * np.sqrt(va + vb))
    return diff, diff - half, diff + half


def crosscheck_summary(trials: pd.DataFrame, metrics: Sequence[str] = ("revenue", "reward")) -> pd.DataFrame:
    """Per cell and metric: each engine's mean with a 95 % t interval over seeds, the Welch interval
    of jax - sb3 (``agree``: it contains 0) and, per engine, the mean over seeds of 100 * metric /
    best_fixed's metric (both in that engine's evaluation envs, same seed) with its t interval."""
    out = []
    for cell, group in trials.groupby(list(CELL_KEYS)):
        by = {engine: g.set_index("seed") for engine, g in group.groupby("engine")}
        for metric in metrics:
            row: dict[str, Any] = dict(zip(CELL_KEYS, cell), metric=metric)
            for engine in ENGINES:
                ci = seed_ci(by[engine][metric])
                row.update(
                    {f"{engine}_mean": ci["mean"], f"{engine}_low": ci["ci_low"], f"{engine}_high": ci["ci_high"]}
                )
                pct = seed_ci(100 * by[engine][metric] / by[f"best_fixed_{engine}"][metric])
                row.update(
                    {
                        f"{engine}_pct_of_best_fixed": pct["mean"],
                        f"{engine}_pct_low": pct["ci_low"],
                        f"{engine}_pct_high": pct["ci_high"],
                    }
                )
            diff, low, high = welch_interval(by["jax"][metric], by["sb3"][metric])
            row.update(jax_minus_sb3=diff, diff_low=low, diff_high=high, agree=bool(low <= 0 <= high))
            out.append(row)
    return pd.DataFrame(out)


def write_crosscheck(
    folder: str | Path,
    cells: Sequence[Mapping[str, Any]],
    seeds: Sequence[int],
    settings: Mapping[str, Any],
    algorithm: str = "ppo",
) -> pd.DataFrame:
    """Run :func:`crosscheck_trials` and keep it: ``folder/trials.parquet``, ``folder/provenance.json``
    (the code's state as the run started: :func:`~phantom_lib.study.design.vcs.tree_state`; cells,
    seeds, settings, data, software, machine, wall time) and, last, ``folder/manifest.json``. Refuses a
    folder that already holds a cross-check."""
    folder = Path(folder)
    if (folder / "trials.parquet").exists():
        raise FileExistsError(f"{folder} already holds a cross-check: choose another folder")
    tree = vcs.tree_state(REPO_ROOT, exclude=folder)
    start = time.perf_counter()
    trials = crosscheck_trials(cells, seeds, settings, algorithm)
    folder.mkdir(parents=True, exist_ok=True)
    trials.to_parquet(folder / "trials.parquet", index=False)
    record = {
        **tree,
        "algorithm": algorithm,
        "cells": [dict(c) for c in cells],
        "seeds": list(seeds),
        "settings": dict(settings),
        "data": data_provenance(str(settings.get("data_source", "standin"))),
        "versions": software_versions(),
        "machine": machine(),
        "wall_seconds": round(time.perf_counter() - start, 1),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (folder / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    write_manifest(folder, __name__)
    return trials


CROSSCHECK_CELLS: tuple[dict[str, float], ...] = (
    {"alpha0": 0.1, "eps_alpha": 0.15, "lambda_coi": 0.15},
    {"alpha0": 0.4, "eps_alpha": 0.3, "lambda_coi": 0.3},
    {"alpha0": 0.6, "eps_alpha": 0.0, "lambda_coi": 0.15},
)
"""The cells ``phantom crosscheck`` trains both engines on (a small, a large and no robustness radius)."""
