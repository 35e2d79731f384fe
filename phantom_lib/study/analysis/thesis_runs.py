"""The thesis's own published runs, loaded, validated and re-analysed (chapter 08).

Two tables ship in ``data/published/`` (:data:`phantom_lib.published.RUNS_DIR`, with their card):

* ``revenue_alpha_runs.csv``: the thesis's baseline runs behind its revenue-alpha regression, one
  row per run (``run_id``, ``alpha``, ``seed``, ``lambda_coi``, ``revenue``, ``reward``,
  ``runtime_s``); revenue and reward are mean per-episode evaluation values;
* ``alpha_mode_summary.csv``: the final cohort's per-alpha means, baseline beside defended.

From them this module recomputes the published regression (OLS of revenue on alpha, iid and HC1
standard errors), shows what the rows hold (distinct outcomes over (alpha, seed) cells) and refits
with standard errors that count each independent run once (clustered by cell, or on the distinct
outcomes). Those baseline runs have lambda_coi and eta_ux at 0 in effect, so by the reward of the
Model reference, section 6, reward = revenue - p_low * (sum over the episode of sum(q)): the
episode's proxy mass is (revenue - reward) / p_low, and revenue / mass is the q-weighted mean
price, which must lie in [p_low, p_high] if the identity holds (section 10 explains why the mass
matters). From the per-alpha table it recomputes the defended - baseline delta and tests the
hypothesis that a defended policy (robustness radius eps) earns what a baseline earns at the share
min(alpha + eps, 1) (section 10, ``adversary = "closed_form"``).

Every figure the thesis published is read from :mod:`phantom_lib.published`, never typed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phantom_lib.behaviour.mass import mixture_mass
from phantom_lib.published import DEFENCE_REVENUE_DELTA_PCT, EVALUATION, RUNS_DIR
from phantom_lib.sim.config import EnvConfig

RUNS_FILE = "revenue_alpha_runs.csv"
SUMMARY_FILE = "alpha_mode_summary.csv"

RUN_COLUMNS = ("run_id", "alpha", "seed", "lambda_coi", "revenue", "reward", "runtime_s")
SUMMARY_COLUMNS = (
    "alpha", "baseline_runs", "defended_runs", "baseline_revenue", "defended_revenue", "baseline_reward",
    "defended_reward", "baseline_coi_level", "defended_coi_level", "revenue_delta_pct",
)
CELL = ("alpha", "seed")
"""An (alpha, seed) cell: the runs that differ only in lambda_coi (ignored by a baseline) share it."""

OUTCOME = ("alpha", "seed", "revenue", "reward")
"""Runs equal on these are copies of one outcome."""

_PRICES = EnvConfig()
P_LOW, P_HIGH = _PRICES.p_low, _PRICES.p_high
"""Price bounds of the model (Model reference, section 6), the thesis's too."""


class ThesisDataError(ValueError):
    """A published run table that is missing or does not hold what its card says."""


def _read(path: Path, columns: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise ThesisDataError(f"{path} is missing: the thesis's run tables ship in data/published/ (see its README.md)")
    frame = pd.read_csv(path)
    problems = (
        [f"missing column(s) {[c for c in columns if c not in frame.columns]}"] if set(columns) - set(frame) else []
    )
    for column in (c for c in numeric if c in frame):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame.index[~np.isfinite(values.to_numpy(dtype=float))].tolist()
        if bad:
            problems.append(f"column {column!r} must hold finite numbers; rows {bad[:5]} do not")
        frame[column] = values
    if problems:
        raise ThesisDataError(f"{path.name}:\n  - " + "\n  - ".join(problems))
    return frame[list(columns)]


def _fail(name: str, problems: list[str]) -> None:
    if problems:
        raise ThesisDataError(f"{name}:\n  - " + "\n  - ".join(problems))


def _off_grid(alphas: pd.Series) -> list[float]:
    grid = np.asarray(EVALUATION["alphas"])
    return sorted({float(a) for a in alphas if not np.isclose(grid, a, atol=1e-9).any()})


def load_runs(folder: str | Path = RUNS_DIR) -> pd.DataFrame:
    """The thesis's baseline runs, one row per run, validated.

    Checks: every column present and numeric where it should be; run ids unique; alpha on the
    sweep's grid and seeds among its seeds (``EVALUATION``); reward <= revenue (a proxy mass >= 0);
    runtimes > 0. Raises :class:`ThesisDataError` listing every problem.
    """
    frame = _read(Path(folder) / RUNS_FILE, RUN_COLUMNS, RUN_COLUMNS[1:])
    problems = []
    if frame["run_id"].duplicated().any():
        problems.append(
            f"run_id must be unique; repeated: {sorted(frame.loc[frame['run_id'].duplicated(), 'run_id'])[:5]}"
        )
    if off := _off_grid(frame["alpha"]):
        problems.append(f"alpha must lie on the sweep's grid {EVALUATION['alphas']}; got {off}")
    if bad := sorted(set(frame["seed"]) - set(EVALUATION["seeds"])):
        problems.append(f"seed must be one of {EVALUATION['seeds']}; got {bad}")
    if (frame["reward"] > frame["revenue"]).any():
        problems.append(
            f"reward exceeds revenue in rows {frame.index[frame['reward'] > frame['revenue']].tolist()[:5]}"
        )
    if (frame["runtime_s"] <= 0).any():
        problems.append("runtime_s must be > 0")
    _fail(RUNS_FILE, problems)
    return frame.astype({"seed": int}).sort_values(["alpha", "seed", "run_id"], ignore_index=True)


def load_alpha_summary(folder: str | Path = RUNS_DIR) -> pd.DataFrame:
    """The thesis's per-alpha means, baseline and defended, validated (one row per alpha, sorted).

    Checks: columns present and numeric; alpha unique and on the sweep's grid; run counts whole
    numbers >= 1; revenues > 0. Raises :class:`ThesisDataError` listing every problem.
    """
    frame = _read(Path(folder) / SUMMARY_FILE, SUMMARY_COLUMNS, SUMMARY_COLUMNS)
    problems = []
    if frame["alpha"].duplicated().any():
        problems.append(f"alpha must be unique; repeated: {sorted(frame.loc[frame['alpha'].duplicated(), 'alpha'])}")
    if off := _off_grid(frame["alpha"]):
        problems.append(f"alpha must lie on the sweep's grid {EVALUATION['alphas']}; got {off}")
    for column in ("baseline_runs", "defended_runs"):
        if not ((frame[column] >= 1) & (frame[column] % 1 == 0)).all():
            problems.append(f"{column} must hold whole numbers >= 1")
    for column in ("baseline_revenue", "defended_revenue"):
        if (frame[column] <= 0).any():
            problems.append(f"{column} must be > 0")
    _fail(SUMMARY_FILE, problems)
    return frame.astype({"baseline_runs": int, "defended_runs": int}).sort_values("alpha", ignore_index=True)


# --------------------------------------------------------------------------------------------
# What the rows hold, and the regression.


def distinct_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Each distinct outcome once: the runs deduplicated on (alpha, seed, revenue, reward), with
    ``copies`` = how many rows repeat it."""
    keys = list(OUTCOME)
    return runs.groupby(keys, as_index=False, sort=True).agg(copies=("run_id", "size"))


def outcome_counts(runs: pd.DataFrame) -> dict[str, int]:
    """How many rows, (alpha, seed) cells and distinct (revenue, reward) outcomes the runs hold.

    Keys: ``rows``, ``cells``, ``distinct_outcomes``, ``cells_with_several_outcomes``,
    ``most_copies`` (the most rows one outcome fills).
    """
    distinct = distinct_runs(runs)
    per_cell = distinct.groupby(list(CELL)).size()
    return {
        "rows": len(runs),
        "cells": int(runs.groupby(list(CELL)).ngroups),
        "distinct_outcomes": len(runs[["revenue", "reward"]].drop_duplicates()),
        "cells_with_several_outcomes": int((per_cell > 1).sum()),
        "most_copies": int(distinct["copies"].max()),
    }


def alpha_fit(frame: pd.DataFrame, outcome: str = "revenue", x: str = "alpha") -> dict[str, float]:
    """OLS of ``outcome`` on ``x`` with three standard errors of the slope.

    Returns ``n``, ``intercept``, ``slope`` (outcome units per unit of x), ``r2``,
    ``slope_pct_of_intercept`` (100 slope / |intercept|), ``se_iid`` (classical), ``se_hc1``
    (heteroskedasticity-robust, HC1) and ``se_cluster`` with ``n_clusters``: cluster-robust by
    (alpha, seed) cell (statsmodels' default small-sample correction), so runs that share a cell
    count as one independent observation.
    """
    import statsmodels.formula.api as smf

    model = smf.ols(f"{outcome} ~ {x}", data=frame)
    iid = model.fit()
    clusters = frame.groupby(list(CELL)).ngroup().to_numpy()
    intercept, slope = float(iid.params["Intercept"]), float(iid.params[x])
    return {
        "n": int(iid.nobs),
        "intercept": intercept,
        "slope": slope,
        "r2": float(iid.rsquared),
        "slope_pct_of_intercept": 100.0 * slope / abs(intercept),
        "se_iid": float(iid.bse[x]),
        "se_hc1": float(model.fit(cov_type="HC1").bse[x]),
        "se_cluster": float(model.fit(cov_type="cluster", cov_kwds={"groups": clusters}).bse[x]),
        "n_clusters": int(np.unique(clusters).size),
    }


def revenue_regressions(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`alpha_fit` over every row (the thesis's regression) and over the distinct outcomes
    (each independent run once), one row each, indexed ``all rows`` / ``distinct outcomes``."""
    return pd.DataFrame(
        {"all rows": alpha_fit(runs), "distinct outcomes": alpha_fit(distinct_runs(runs))}
    ).T.rename_axis("fitted on")


# --------------------------------------------------------------------------------------------
# The proxy mass the runs imply.


def implied_mass(
    runs: pd.DataFrame, p_low: float = P_LOW, p_high: float = P_HIGH, steps: int = EVALUATION["episode_steps"]
) -> pd.DataFrame:
    """Per run: the episode's proxy mass, per step, and the q-weighted mean price it implies.

    With lambda_coi = eta_ux = 0 the reward is revenue - p_low sum(q) per step, so
    ``mass_per_episode`` = (revenue - reward) / p_low, ``mass_per_step`` = that / ``steps``, and
    ``implied_price`` = revenue / mass_per_episode (price units). ``identity_holds`` is True where
    p_low <= implied_price <= p_high, which every row must satisfy if the identity is right.
    """
    mass = (runs["revenue"] - runs["reward"]) / p_low
    price = runs["revenue"] / mass
    return runs.assign(
        mass_per_episode=mass,
        mass_per_step=mass / steps,
        implied_price=price,
        identity_holds=(price >= p_low) & (price <= p_high),
    )


def mass_by_alpha(
    runs: pd.DataFrame, summary: pd.DataFrame, p_low: float = P_LOW, steps: int = EVALUATION["episode_steps"]
) -> pd.DataFrame:
    """Implied proxy mass by alpha, from the runs (distinct outcomes) and from the per-alpha table.

    Columns: ``outcomes`` (distinct runs at that alpha), ``mass_per_episode`` and
    ``mass_per_step`` (mean over them), ``implied_price`` (mean q-weighted price),
    ``table_mass_per_episode`` ((baseline revenue - baseline reward) / p_low of the per-alpha table,
    a larger cohort), ``mean_price`` (the table's baseline COI level + p_low, price units).
    """
    runs_mass = implied_mass(distinct_runs(runs), p_low, steps=steps)
    out = runs_mass.groupby("alpha").agg(
        outcomes=("revenue", "size"),
        mass_per_episode=("mass_per_episode", "mean"),
        mass_per_step=("mass_per_step", "mean"),
        implied_price=("implied_price", "mean"),
    )
    table = summary.set_index("alpha")
    out["table_mass_per_episode"] = (table["baseline_revenue"] - table["baseline_reward"]) / p_low
    out["mean_price"] = table["baseline_coi_level"] + p_low
    return out


def mass_comparison(by_alpha: pd.DataFrame, human: float, agent: float) -> pd.DataFrame:
    """The thesis's implied mass per step beside a model's prediction (1 - alpha) m_H + alpha m_A.

    Args:
        by_alpha: :func:`mass_by_alpha`.
        human, agent: m_H, m_A, expected mass per session (:func:`phantom_lib.behaviour.session_mass`).

    Returns:
        by alpha: ``thesis_per_step``, ``predicted_per_session``, ``implied_sessions`` (the thesis's
        mass per step in units of predicted sessions: the M a proxy summed over sessions would
        need), and both curves relative to their value at alpha = 0 (``thesis_relative``,
        ``predicted_relative``).
    """
    alphas = by_alpha.index.to_numpy(dtype=float)
    thesis = by_alpha["mass_per_step"].to_numpy()
    predicted = mixture_mass(alphas, human, agent)
    at_zero = alphas == alphas.min()
    return pd.DataFrame(
        {
            "thesis_per_step": thesis,
            "predicted_per_session": predicted,
            "implied_sessions": thesis / predicted,
            "thesis_relative": thesis / thesis[at_zero][0],
            "predicted_relative": predicted / predicted[at_zero][0],
        },
        index=by_alpha.index,
    )


# --------------------------------------------------------------------------------------------
# The defence delta and the shift hypothesis.


def defence_deltas(summary: pd.DataFrame) -> pd.DataFrame:
    """Defended - baseline revenue by alpha, recomputed: ``delta`` (revenue units per episode),
    ``delta_pct`` (100 (defended / baseline - 1)) beside the table's ``published_pct``."""
    t = summary.set_index("alpha")
    return pd.DataFrame(
        {
            "baseline": t["baseline_revenue"],
            "defended": t["defended_revenue"],
            "delta": t["defended_revenue"] - t["baseline_revenue"],
            "delta_pct": 100.0 * (t["defended_revenue"] / t["baseline_revenue"] - 1.0),
            "published_pct": t["revenue_delta_pct"],
        }
    )


def delta_headlines(deltas: pd.DataFrame) -> dict[str, float]:
    """The thesis's headline deltas recomputed from :func:`defence_deltas`, keyed as
    :data:`phantom_lib.published.DEFENCE_REVENUE_DELTA_PCT` (means of the per-alpha %)."""
    a, pct = deltas.index.to_numpy(dtype=float), deltas["delta_pct"]
    masks = {
        "mean over alpha in [0, 1]": a >= 0,
        "alpha >= 0.7": a >= 0.7 - 1e-9,
        "alpha < 0.7": a < 0.7 - 1e-9,
        "alpha = 1": np.isclose(a, 1.0),
    }
    if set(masks) != set(DEFENCE_REVENUE_DELTA_PCT):
        raise KeyError(
            f"headline keys {sorted(masks)} no longer match the published ones {sorted(DEFENCE_REVENUE_DELTA_PCT)}"
        )
    return {key: float(pct[mask].mean()) for key, mask in masks.items()}


@dataclass(frozen=True)
class ShiftTest:
    """How well "defended at alpha = baseline at min(alpha + eps, 1)" predicts a per-alpha table.

    Attributes:
        table: by alpha: ``defended``, ``baseline`` (same alpha), ``shifted`` (baseline at
            min(alpha + eps, 1), linear interpolation between table rows), ``residual`` = defended -
            shifted and ``residual_pct`` (% of shifted), ``unshifted_residual`` = defended - baseline.
        stats: ``eps``; ``rmse_shifted`` and ``rmse_unshifted`` (revenue units), ``mean_pct`` and
            ``mean_abs_pct`` (mean residual_pct and mean |residual_pct|), ``correlation`` (Pearson, defended vs
            shifted), ``r2`` (1 - SS of
            the residuals / SS of defended about its mean), ``best_eps`` and ``best_rmse`` (the
            shift in [0, ``max_eps``] on a grid of 0.01 that fits best), and two yardsticks:
            ``rmse_constant_pct`` (the rival "the defence costs a constant share": defended =
            baseline (1 + mean delta), one fitted number) and ``rmse_baseline_line`` (the baseline
            means about their own OLS line in alpha: the table's noise level).
    """

    table: pd.DataFrame
    stats: dict[str, float]


def shift_test(summary: pd.DataFrame, eps: float = EVALUATION["eps_alpha_defended"], max_eps: float = 0.5) -> ShiftTest:
    """Test the shift hypothesis on a per-alpha table (:func:`load_alpha_summary`'s columns).

    ``eps`` is the defended runs' robustness radius (default the thesis's). The baseline revenue at
    a share between table rows is linearly interpolated; shares are capped at 1.
    """
    if not (np.isfinite(eps) and 0 <= eps <= 1):
        raise ValueError(f"eps (the robustness radius) must lie in [0, 1]; got {eps!r}")
    t = summary.sort_values("alpha")
    alpha, base, defended = (t[c].to_numpy(dtype=float) for c in ("alpha", "baseline_revenue", "defended_revenue"))

    def shifted(e: float) -> np.ndarray:
        return np.interp(np.minimum(alpha + e, 1.0), alpha, base)

    def rmse(residual: np.ndarray) -> float:
        return float(np.sqrt(np.mean(residual**2)))

    prediction = shifted(eps)
    residual = defended - prediction
    grid = np.round(np.arange(0.0, max_eps + 1e-9, 0.01), 2)
    fits = np.array([rmse(defended - shifted(e)) for e in grid])
    table = pd.DataFrame(
        {
            "defended": defended,
            "baseline": base,
            "shifted": prediction,
            "residual": residual,
            "residual_pct": 100.0 * residual / prediction,
            "unshifted_residual": defended - base,
        },
        index=pd.Index(alpha, name="alpha"),
    )
    constant = base * np.mean(defended / base)
    line = np.polyval(np.polyfit(alpha, base, 1), alpha)
    stats: dict[str, Any] = {
        "eps": float(eps),
        "rmse_shifted": rmse(residual),
        "rmse_unshifted": rmse(defended - base),
        "mean_pct": float(np.mean(table["residual_pct"])),
        "mean_abs_pct": float(np.mean(np.abs(table["residual_pct"]))),
        "correlation": float(np.corrcoef(defended, prediction)[0, 1]),
        "r2": float(1.0 - np.sum(residual**2) / np.sum((defended - defended.mean()) ** 2)),
        "best_eps": float(grid[np.argmin(fits)]),
        "best_rmse": float(fits.min()),
        "rmse_constant_pct": rmse(defended - constant),
        "rmse_baseline_line": rmse(base - line),
    }
    return ShiftTest(table, stats)
