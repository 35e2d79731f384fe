"""Tables and statistics of a sweep's results (notebook 06).

Reads what :func:`phantom_lib.study.run.runner.sweep` writes (``results.parquet`` + ``provenance.json``)
and computes: factor effects (OLS with categorical factors, HC1 standard errors), defended
minus baseline deltas (each defended trial against its baseline twin: same algorithm, alpha0,
action levels and seed), revenue against alpha0, algorithm comparisons and win rates,
learning curves and the reference-policy anchors.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from phantom_lib.published import BASELINE_REGRESSION, DEFENCE_REVENUE_DELTA_PCT
from phantom_lib.sim.config import EnvConfig

FACTOR_NAMES = ("algorithm", "alpha0", "eps_alpha", "lambda_coi", "action_levels")
TWIN_KEYS = ("algorithm", "alpha0", "action_levels", "seed")
"""A defended trial and its baseline twin share these."""

@dataclass(frozen=True)
class SweepResults:
    """A sweep's successful trials (metric columns without the ``m_`` prefix) and its provenance."""

    trials: pd.DataFrame
    provenance: dict[str, Any]
    n_failed: int

    @property
    def learners(self) -> pd.DataFrame:
        """Trained trials (defended and baseline variants)."""
        return self.trials[self.trials["variant"].isin(["defended", "baseline"])]

    @property
    def defended(self) -> pd.DataFrame:
        """Defended trials (the design's cells)."""
        return self.trials[self.trials["variant"] == "defended"]

    @property
    def baseline(self) -> pd.DataFrame:
        """Baseline twins (lambda_coi 0, eps_alpha 0, K 1)."""
        return self.trials[self.trials["variant"] == "baseline"]

    @property
    def references(self) -> pd.DataFrame:
        """Reference (non-learning) policies."""
        return self.trials[self.trials["variant"] == "reference"]


REPO_ROOT = Path(__file__).resolve().parents[3]


def load(folder: str | Path) -> SweepResults:
    """Read ``folder/results.parquet`` and ``folder/provenance.json`` (relative paths: from the repo root),
    as :func:`~phantom_lib.study.sweep` and :func:`~phantom_lib.study.run_trials` write them.

    A design without baseline twins or references has no ``variant`` column: its trials are read as
    ``defended`` (the cells as given, :class:`TrialConfig`'s default), so :attr:`SweepResults.baseline`
    is empty and pair-based analyses find no pairs.

    A factor of :data:`FACTOR_NAMES` that the design held at its default (the thesis's protocol has
    no ``action_levels`` factor) gets a column with :class:`EnvConfig`'s default, so every analysis
    function reads any design."""
    folder = Path(folder) if Path(folder).is_absolute() else REPO_ROOT / folder
    table, prov = folder / "results.parquet", folder / "provenance.json"
    for path in (table, prov):
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run `phantom sweep --design NAME|FILE --out {folder}` first")
    frame = pd.read_parquet(table)
    ok = frame[frame["status"] == "ok"].rename(columns=lambda c: c[2:] if c.startswith("m_") else c)
    if "variant" not in ok:  # a design without twins or references: every trial is a cell as given
        ok = ok.assign(variant="defended")
    defaults = EnvConfig()
    ok = ok.assign(**{name: getattr(defaults, name) for name in FACTOR_NAMES[1:] if name not in ok})
    return SweepResults(ok.reset_index(drop=True), json.loads(prov.read_text()), int((frame["status"] != "ok").sum()))


def design_table(provenance: dict[str, Any]) -> pd.DataFrame:
    """Factors and their levels, with the fixed settings, as a small table."""
    d = provenance["design"]
    rows = [{"factor": k, "levels": ", ".join(map(str, v)), "n": len(v)} for k, v in d["factors"].items()]
    rows.append({"factor": "seeds", "levels": ", ".join(map(str, d["seeds"])), "n": len(d["seeds"])})
    rows += [{"factor": f"setting: {k}", "levels": str(v), "n": 1} for k, v in d["settings"].items()]
    return pd.DataFrame(rows)


def varying(frame: pd.DataFrame, factors: Sequence[str] = FACTOR_NAMES) -> list[str]:
    """The factors that take more than one value in ``frame`` (the others cannot enter a model)."""
    return [f for f in factors if frame[f].nunique() > 1]


def _formula(outcome: str, factors: Sequence[str], interactions: bool) -> str:
    terms = " + ".join(f"C({f})" for f in factors)
    return f"{outcome} ~ ({terms}) ** 2" if interactions and len(factors) > 1 else f"{outcome} ~ {terms}"


def _fit(frame: pd.DataFrame, outcome: str, factors: Sequence[str], interactions: bool) -> Any:
    """OLS with HC1 covariance; the two-way model falls back to main effects when it leaves no residual df."""
    import statsmodels.formula.api as smf

    model = smf.ols(_formula(outcome, factors, interactions), data=frame)
    if interactions and model.df_resid < 1:
        model = smf.ols(_formula(outcome, factors, False), data=frame)
    if model.df_resid < 1:
        raise ValueError(f"{len(frame)} trials leave no residual degrees of freedom for {list(factors)}: "
                         "run more seeds or configurations")
    return model.fit(cov_type="HC1")


def factor_tests(frame: pd.DataFrame, outcomes: Sequence[str], interactions: bool = True) -> pd.DataFrame:
    """Wald tests (HC1 covariance) of every main effect and two-way interaction, per outcome.

    Fits ``outcome ~ (C(f1) + ... + C(fk)) ** 2`` by OLS over the trials in ``frame`` (main
    effects only with ``interactions=False``, or when the two-way model would leave no
    residual degrees of freedom). Returns one row per (outcome, term): the Wald chi2
    statistic, its degrees of freedom and p-value.
    """
    factors = varying(frame)
    if not factors:
        raise ValueError("no factor varies in these trials: nothing to test")
    rows = []
    for outcome in outcomes:
        fit = _fit(frame, outcome, factors, interactions)
        tests = fit.wald_test_terms(skip_single=False, scalar=True).table
        for term, row in tests.iterrows():
            if term == "Intercept":
                continue
            rows.append({"outcome": outcome, "term": term.replace("C(", "").replace(")", ""),
                         "chi2": float(row["statistic"]), "df": int(row["df_constraint"]), "p": float(row["pvalue"])})
    return pd.DataFrame(rows)


def main_effects(frame: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Main-effect coefficients (each level against the factor's first level) with HC1 95% CIs."""
    fit = _fit(frame, outcome, varying(frame), False)
    ci = fit.conf_int()
    rows = []
    for name in fit.params.index.drop("Intercept"):
        factor, level = name[2:].split(")[T.")
        rows.append({"outcome": outcome, "factor": factor, "level": level.rstrip("]"), "effect": fit.params[name],
                     "ci_low": ci.loc[name, 0], "ci_high": ci.loc[name, 1], "p": fit.pvalues[name]})
    return pd.DataFrame(rows)


def paired(results: SweepResults, metric: str) -> pd.DataFrame:
    """Defended trials beside their baseline twin's ``metric``.

    Columns: the design factors, seed, ``defended`` and ``baseline`` (a twin serves every
    defended cell with its algorithm, alpha0, action levels and seed).
    """
    twins = results.baseline[list(TWIN_KEYS) + [metric]].rename(columns={metric: "baseline"})
    own = results.defended[list(FACTOR_NAMES) + ["seed", metric]].rename(columns={metric: "defended"})
    return own.merge(twins, on=list(TWIN_KEYS), how="inner", validate="many_to_one")


def relative_delta(pairs: pd.DataFrame) -> float:
    """100 (mean defended - mean baseline) / |mean baseline|, in %."""
    base = pairs["baseline"].mean()
    return float(100.0 * (pairs["defended"].mean() - base) / abs(base))


def seed_ci(per_seed: pd.Series, level: float = 0.95) -> dict[str, float]:
    """Mean of per-seed values with a t confidence interval across seeds (NaN bounds with one seed)."""
    n = len(per_seed)
    mean = float(per_seed.mean())
    if n < 2:
        return {"mean": mean, "ci_low": float("nan"), "ci_high": float("nan"), "n_seeds": n}
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * per_seed.std(ddof=1) / np.sqrt(n))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "n_seeds": n}


def deltas_by(pairs: pd.DataFrame, by: str | Sequence[str] = "alpha0") -> pd.DataFrame:
    """Defended minus baseline, % of the baseline mean, by ``by``; 95% t-CIs across seeds.

    Within each group the delta is computed per seed (:func:`relative_delta` over that seed's
    pairs); the table reports the mean over seeds and its CI. A last row pools all groups.
    """
    keys = [by] if isinstance(by, str) else list(by)

    def row(label: dict[str, Any], group: pd.DataFrame) -> dict[str, Any]:
        per_seed = group.groupby("seed").apply(relative_delta, include_groups=False)
        return {**label, **seed_ci(per_seed), "n_pairs": len(group)}

    rows = [row(dict(zip(keys, key if isinstance(key, tuple) else (key,))), g) for key, g in pairs.groupby(keys)]
    rows.append(row(dict.fromkeys(keys, "all"), pairs))
    return pd.DataFrame(rows)


def delta_definitions(pairs: pd.DataFrame, by: str = "algorithm") -> pd.DataFrame:
    """Defended - baseline revenue in % under four ways of averaging, pooled and per level of ``by``.

    Columns (all in %): ``ratio_of_means`` (:func:`relative_delta` over the group's pairs),
    ``mean_of_ratios`` (100 mean(defended / baseline - 1) over pairs), ``per_seed`` (ratio of means
    per seed, then the mean over seeds: :func:`deltas_by`, chapter 06's headline) and
    ``mean_over_alpha0`` (ratio of means per alpha0, then the mean over alpha0: the thesis's
    headline definition); ``n_pairs``. The first row (``all``) pools every pair.
    """

    def row(group: pd.DataFrame) -> dict[str, float]:
        def mean_of(key: str) -> float:
            return float(group.groupby(key).apply(relative_delta, include_groups=False).mean())

        return {"ratio_of_means": relative_delta(group),
                "mean_of_ratios": float(100.0 * (group["defended"] / group["baseline"] - 1.0).mean()),
                "per_seed": mean_of("seed"), "mean_over_alpha0": mean_of("alpha0"), "n_pairs": len(group)}

    rows = {"all": row(pairs)} | {str(level): row(group) for level, group in pairs.groupby(by)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(by).astype({"n_pairs": int})


COLLAPSE_SHARE = 0.5
"""A learned policy has collapsed when its evaluation revenue is below this share of the best fixed
price scale's revenue in the same cell (same alpha0, action set and seed): it earns less than half of
what holding one constant price would."""


def collapsed(results: SweepResults, share: float = COLLAPSE_SHARE) -> pd.DataFrame:
    """The learner trials with a ``collapsed`` flag (:data:`COLLAPSE_SHARE` rule) and the anchor.

    Returns the learner trials with two more columns: ``best_fixed_revenue`` (the ``best_fixed``
    reference's mean revenue at the trial's alpha0, action levels and seed; its action does not
    depend on lambda_coi, which only shifts rewards by a constant) and ``collapsed`` (bool).
    Raises ``ValueError`` when the results hold no ``best_fixed`` reference.
    """
    keys = ["alpha0", "action_levels", "seed"]
    fixed = results.references[results.references["algorithm"] == "best_fixed"]
    if fixed.empty:
        raise ValueError("the results hold no best_fixed reference trials: add 'best_fixed' to the design's references")
    anchor = fixed.groupby(keys, as_index=False)["revenue"].mean().rename(columns={"revenue": "best_fixed_revenue"})
    out = results.learners.merge(anchor, on=keys, how="left", validate="many_to_one")
    return out.assign(collapsed=out["revenue"] < share * out["best_fixed_revenue"])


def bootstrap_deltas(pairs: pd.DataFrame, n_boot: int = 4000, seed: int = 0,
                     split: pd.Series | None = None, keys: Sequence[str] = TWIN_KEYS) -> np.ndarray:
    """Bootstrap draws (shape ``(n_boot,)``, %) of :func:`relative_delta`, resampling whole twin groups.

    A baseline twin serves several defended cells (:data:`TWIN_KEYS`), so pairs sharing a twin are not
    independent; each draw resamples the twin groups (algorithm x alpha0 x action set x seed) with
    replacement. With ``split`` (a boolean Series over ``pairs``) each draw is the delta of the
    ``split`` pairs minus the delta of the others, both over the same resampled groups: a contrast
    within twin groups. ``keys`` name a twin group's columns (default :data:`TWIN_KEYS`; the sales
    study pairs a defence with its undefended twin by algorithm, alpha0, agents_buy and seed).
    """
    codes = pairs.groupby(list(keys)).ngroup().to_numpy()
    n_groups = int(codes.max()) + 1
    draws = np.random.default_rng(seed).integers(0, n_groups, size=(n_boot, n_groups))

    def resampled(mask: np.ndarray) -> np.ndarray:
        sums = np.stack([np.bincount(codes[mask], weights=pairs[col].to_numpy(float)[mask], minlength=n_groups)
                         for col in ("defended", "baseline")], axis=1)
        totals = sums[draws].sum(axis=1)
        return 100.0 * (totals[:, 0] - totals[:, 1]) / np.abs(totals[:, 1])

    if split is None:
        return resampled(np.ones(len(pairs), dtype=bool))
    mask = split.to_numpy(dtype=bool)
    return resampled(mask) - resampled(~mask)


def clustered_delta(pairs: pd.DataFrame, n_boot: int = 4000, seed: int = 0, level: float = 0.95) -> dict[str, float]:
    """Defended minus baseline revenue (ratio of means, %) with a bootstrap interval that resamples
    whole twin groups (:func:`bootstrap_deltas`).

    The interval is the percentile interval of :func:`relative_delta` over ``n_boot`` resamples of
    twin groups. Also returned: the median of the per-pair relative deltas, the number of pairs and
    of clusters, and the per-seed deltas' range.
    """
    boot = bootstrap_deltas(pairs, n_boot, seed)
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    per_seed = pairs.groupby("seed").apply(relative_delta, include_groups=False)
    return {"mean": relative_delta(pairs), "ci_low": float(low), "ci_high": float(high),
            "median_pair": float(100.0 * np.median(pairs["defended"] / pairs["baseline"] - 1.0)),
            "seed_min": float(per_seed.min()), "seed_max": float(per_seed.max()),
            "n_pairs": len(pairs), "n_clusters": int(pairs.groupby(list(TWIN_KEYS)).ngroups)}


def is_placebo(pairs: pd.DataFrame) -> pd.Series:
    """The placebo pairs: eps_alpha = 0, so the defended env has no adversary and its reward differs from
    the twin's only by the COI penalty lambda_coi f InfoValue B, a term no policy can change (the
    leakage f InfoValue does not depend on prices, chapter 06). A delta there is training noise."""
    return pairs["eps_alpha"] == 0


def placebo_contrast(pairs: pd.DataFrame, n_boot: int = 4000, seed: int = 0, level: float = 0.95) -> dict[str, float]:
    """The defence cost as robust minus placebo: the delta of the robust pairs (eps_alpha > 0) minus the
    delta of the placebo pairs (:func:`is_placebo`), in percentage points, with a bootstrap interval
    over twin groups (each group holds both kinds of pair, so the contrast is within twins).

    Returns ``robust``, ``placebo`` and ``contrast`` (%), the contrast's ``ci_low``/``ci_high`` at
    ``level``, and the number of pairs of each kind. Raises ``ValueError`` when one kind is absent.
    """
    placebo = is_placebo(pairs)
    if placebo.all() or not placebo.any():
        raise ValueError("placebo_contrast needs pairs with eps_alpha = 0 and with eps_alpha > 0; "
                         f"got {int(placebo.sum())} placebo of {len(pairs)}")
    boot = bootstrap_deltas(pairs, n_boot, seed, split=~placebo)
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    robust, base = relative_delta(pairs[~placebo]), relative_delta(pairs[placebo])
    return {"robust": robust, "placebo": base, "contrast": robust - base, "ci_low": float(low),
            "ci_high": float(high), "n_robust": int((~placebo).sum()), "n_placebo": int(placebo.sum())}


def per_share_summary(results: SweepResults, metric: str = "revenue", steps: int = 1) -> pd.DataFrame:
    """Baseline and defended means of ``metric`` per agent share, in the layout of the thesis's
    per-alpha table (``data/published/alpha_mode_summary.csv``), so the same analysis reads both.

    Args:
        results: a sweep with baseline twins (the thesis-protocol designs ``as-written``/``as-run``).
        metric: the evaluation metric (per step, env units). steps: multiply by this (the thesis
            reports per-episode sums: pass the episode length).

    Returns:
        one row per alpha0 (sorted): ``alpha``, ``baseline_runs``, ``defended_runs``,
        ``baseline_{metric}``, ``defended_{metric}`` (means over every trial of the variant at that
        share: seeds and lambda_coi levels) and ``revenue_delta_pct`` when ``metric`` is revenue
        (100 (defended / baseline - 1)).
    """
    rows = []
    for alpha, group in results.learners.groupby("alpha0"):
        row: dict[str, Any] = {"alpha": float(alpha)}
        for variant in ("baseline", "defended"):
            values = group.loc[group["variant"] == variant, metric]
            row[f"{variant}_runs"] = int(len(values))
            row[f"{variant}_{metric}"] = float(values.mean()) * steps
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("alpha", ignore_index=True)
    if metric == "revenue":
        table["revenue_delta_pct"] = 100.0 * (table["defended_revenue"] / table["baseline_revenue"] - 1.0)
    return table


def slope(frame: pd.DataFrame, outcome: str = "revenue", x: str = "alpha0") -> dict[str, float]:
    """OLS ``outcome ~ x`` with an HC1 95% CI of the slope; also the slope as % of the intercept and R^2."""
    import statsmodels.formula.api as smf

    fit = smf.ols(f"{outcome} ~ {x}", data=frame).fit(cov_type="HC1")
    low, high = fit.conf_int().loc[x]
    intercept = float(fit.params["Intercept"])
    return {"slope": float(fit.params[x]), "ci_low": float(low), "ci_high": float(high),
            "intercept": intercept, "slope_pct_of_intercept": 100 * float(fit.params[x]) / abs(intercept),
            "r2": float(fit.rsquared), "p": float(fit.pvalues[x]), "n": int(fit.nobs)}


def algorithm_summary(frame: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per algorithm: mean of each metric with a 95% t-CI across seeds."""
    rows = []
    for algorithm, g in frame.groupby("algorithm"):
        for metric in metrics:
            rows.append({"algorithm": algorithm, "metric": metric, **seed_ci(g.groupby("seed")[metric].mean())})
    return pd.DataFrame(rows)


def win_rates(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Share of matched cells (same other factors and seed) where the row algorithm beats the column one.

    Ties count one half. The diagonal is NaN.
    """
    cell = [f for f in FACTOR_NAMES if f != "algorithm"] + ["seed"]
    wide = frame.pivot_table(index=cell, columns="algorithm", values=metric, aggfunc="mean")
    names = list(wide.columns)
    table = pd.DataFrame(np.nan, index=names, columns=names)
    for a, b in itertools.permutations(names, 2):
        both = wide[[a, b]].dropna()
        table.loc[a, b] = float(((both[a] > both[b]) + 0.5 * (both[a] == both[b])).mean()) if len(both) else np.nan
    table.index.name, table.columns.name = "winner", "opponent"
    return table


def curves(frame: pd.DataFrame) -> pd.DataFrame:
    """Learning curves in long form: one row per trial and curve point (step, reward, revenue)."""
    keep = frame[frame["curve_step"].map(len) > 0]
    long = keep[["algorithm", "variant", "seed", "alpha0", "curve_step", "curve_reward", "curve_revenue"]]
    long = long.explode(["curve_step", "curve_reward", "curve_revenue"])
    return long.astype({"curve_step": int, "curve_reward": float, "curve_revenue": float})


def anchors(results: SweepResults, metric: str) -> pd.DataFrame:
    """Reference policies' mean ``metric`` per policy and alpha0."""
    ref = results.references
    return ref.groupby(["algorithm", "alpha0"], as_index=False)[metric].mean()


def paper_table(pairs: pd.DataFrame, baseline_slope: dict[str, float]) -> pd.DataFrame:
    """The published headline beside this book's numbers (NaN where our design has no such alpha0).

    Our deltas are defined as in :func:`deltas_by`: per seed, then averaged over seeds.
    """
    a = pairs["alpha0"]

    def mean_where(mask: pd.Series) -> float:
        """The mean over seeds of the per-seed delta, as in :func:`deltas_by`."""
        if not mask.any():
            return float("nan")
        return float(pairs[mask].groupby("seed").apply(relative_delta, include_groups=False).mean())

    ours = {
        "mean over alpha in [0, 1]": mean_where(a >= 0),
        "alpha >= 0.7": mean_where(a >= 0.7),
        "alpha < 0.7": mean_where(a < 0.7),
        "alpha = 1": mean_where(a == 1),
    }
    rows = [{"quantity": f"defended - baseline revenue, %, {k}", "published": v, "this book": ours[k]}
            for k, v in DEFENCE_REVENUE_DELTA_PCT.items()]
    published_slope = 100 * BASELINE_REGRESSION["slope"] / abs(BASELINE_REGRESSION["intercept"])
    rows.append({"quantity": "baseline revenue vs alpha0: slope, % of intercept per unit alpha",
                 "published": published_slope, "this book": baseline_slope["slope_pct_of_intercept"]})
    rows.append({"quantity": "baseline revenue vs alpha0: R-squared",
                 "published": BASELINE_REGRESSION["r2"], "this book": baseline_slope.get("r2", float("nan"))})
    return pd.DataFrame(rows)
