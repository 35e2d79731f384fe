"""The thesis's other tables: files against their card, every derived column recomputed to the
printed digits, the re-analysis on hand-worked cases, and each status rule at its boundary."""

from __future__ import annotations

import hashlib
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from phantom_lib.published import BASELINE_REGRESSION, THESIS_TABLES_DIR
from phantom_lib.published import THESIS_TABLE_CLAIMS as CLAIMS
from phantom_lib.study.analysis import thesis_heatmap as heatmap
from phantom_lib.study.analysis import thesis_runs as tr
from phantom_lib.study.analysis import thesis_tables as tt

METRICS = ("eval_revenue_mean", "eval_reward_mean", "eval_coi_level_mean", "eval_margin_mean")


def test_every_file_matches_the_sha256_and_length_its_card_prints():
    card = (THESIS_TABLES_DIR / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\S+\.csv) \| [0-9a-f]{40} \| (\d+) \| [^|]+ \| ([0-9a-f]{16}) \|$", card, re.M)
    assert len(rows) == 17 == len(tt.FILES)
    assert {path for path, _, _ in rows} == set(tt.FILES.values())
    for path, chars, sha16 in rows:
        data = (THESIS_TABLES_DIR / path).read_bytes()
        assert hashlib.sha256(data).hexdigest()[:16] == sha16, path
        assert len(data.decode("utf-8")) == int(chars), path
    assert tt.file_checks()["ok"].all()


def test_one_changed_byte_fails_the_check(tmp_path: Path):
    shutil.copytree(THESIS_TABLES_DIR, tmp_path / "t")
    target = tmp_path / "t" / tt.FILES["ppo_wins"]
    target.write_text(target.read_text().replace("0.875", "0.876"))
    checks = tt.file_checks(tmp_path / "t").set_index("path")
    assert not checks.loc[tt.FILES["ppo_wins"], "ok"] and checks["ok"].sum() == 16


def test_bad_tables_fail_with_one_error_naming_file_and_column(tmp_path: Path):
    shutil.copytree(THESIS_TABLES_DIR, tmp_path / "t")
    target = tmp_path / "t" / tt.FILES["coi_grid"]
    target.write_text(target.read_text().replace("137.060822623968", "n/a", 1))
    with pytest.raises(
        tr.ThesisDataError, match=r"final_focus_coi_preservation_grid.csv:\n  - column 'baseline_coi_level_mean'"
    ):
        tt.load("coi_grid", tmp_path / "t")
    with pytest.raises(KeyError, match="not one of"):
        tt.load("nope")
    (tmp_path / "t" / tt.FILES["per_sweep"]).unlink()
    with pytest.raises(tr.ThesisDataError, match="is missing"):
        tt.load("per_sweep", tmp_path / "t")


# ------------------------------------------------------------------------------------------
# Derived columns, recomputed from their inputs.


def test_zone_means_pair_with_the_deltas_of_their_own_commit_and_the_printed_zones():
    pairs = tt.version_pairs()
    assert pairs.loc["910dba0", "910dba0"] < 1e-12 and pairs.loc["ae2860a", "ae2860a"] < 1e-12
    assert pairs.loc["910dba0", "ae2860a"] > 1e-3  # the generations do not mix
    zones = tt.zone_means(tt.load("alpha_deltas"))["revenue_delta_pct_mean"]
    assert round(zones["high_alpha_0_7_plus"], 2) == CLAIMS["zone_high_pct"]
    assert round(zones["low_alpha_below_0_7"], 2) == CLAIMS["zone_low_pct"]
    assert zones.index.tolist() == ["high_alpha_0_7_plus", "low_alpha_below_0_7"]
    # the final deltas' mean is the headline -4.78 % chapter 08 reads from alpha_mode_summary.csv
    assert round(tt.load("alpha_deltas")["revenue_delta_pct"].mean(), 2) == -4.78


def test_coi_preservation_recomputed_and_the_printed_alpha_one_row():
    grid = tt.load("coi_grid")
    mine = tt.coi_preservation(grid)
    np.testing.assert_allclose(
        mine.to_numpy(), grid[["coi_preserved", "coi_preserved_pct"]].to_numpy(), rtol=1e-12, atol=1e-12
    )
    at_one = grid[grid["alpha"] == 1.0].set_index("n_products")["coi_preserved"]
    assert {int(k): round(v, 2) for k, v in at_one.items()} == CLAIMS["coi_preserved_alpha1"]
    assert (grid["baseline_runs"] + grid["defended_runs"]).sum() == 768


def test_per_sweep_t_interval_and_p_recomputed_and_its_se_from_the_runs():
    table = tt.load("per_sweep")
    check = tt.slope_table(table)
    row = table.iloc[0]
    assert check["t"] == pytest.approx(row["alpha_t_stat"], rel=1e-12)
    assert check["ci_low"] == pytest.approx(row["alpha_ci95_low"], rel=1e-12)
    assert check["ci_high"] == pytest.approx(row["alpha_ci95_high"], rel=1e-12)
    assert float(f"{check['p']:.3g}") == 1.42e-61 and row["alpha_p_value"] == 0.0
    fit = tr.alpha_fit(tr.load_runs())
    assert round(fit["se_hc1"], 2) == CLAIMS["slope_se_hc1_table"] == round(row["alpha_std_error"], 2)
    assert round(fit["slope"], 2) == BASELINE_REGRESSION["slope"]
    assert tt.printed_status(fit["se_hc1"], CLAIMS["slope_se_hc1_table"]) == tt.REPRODUCED
    assert tt.printed_status(fit["se_hc1"], CLAIMS["slope_se_hc1_text"]) == tt.NOT_REPRODUCED


def test_first_sweep_cell_deltas_and_tier_means_recomputed():
    cells = tt.load("first_tier_alpha")
    printed = tt.load("first_tier_alpha_deltas").set_index(["tier", "alpha"])
    for metric in METRICS:
        mine = tt.mode_deltas(cells, ["tier", "alpha"], metric).loc[printed.index]
        np.testing.assert_allclose(mine["delta"], printed[f"{metric}_delta"], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(mine["delta_pct"], printed[f"{metric}_delta_pct"], rtol=1e-9)
    np.testing.assert_array_equal(
        tt.mode_deltas(cells, ["tier", "alpha"], METRICS[0]).loc[printed.index, "n_defended"], printed["runs_robust"]
    )
    tiers = tt.load("first_tier").set_index(["tier", "mode"])
    for metric in METRICS:
        weighted = tt.weighted_tier_means(cells, metric)
        np.testing.assert_allclose(weighted[f"{metric}_mean"], tiers.loc[weighted.index, f"{metric}_mean"], rtol=1e-12)
        np.testing.assert_array_equal(weighted["runs"], tiers.loc[weighted.index, "runs"])


def test_first_sweep_headline_is_the_ratio_of_tier_means():
    deltas = tt.mode_deltas(tt.load("first_tier"), ["tier"], "eval_revenue_mean")
    head = tt.tier_headline(deltas)
    assert round(head["ratio"], 2) == CLAIMS["first_sweep_mean_pct"]
    assert round(deltas["delta_pct"].min(), 2) == -5.91 and round(deltas["delta_pct"].max(), 2) == -0.31  # the card
    assert round(head["mean"], 2) != CLAIMS["first_sweep_mean_pct"]  # the mean of the tiers' deltas is another number
    assert head["ratio_low"] < head["ratio"] < head["ratio_high"]


def test_ppo_deltas_overall_and_win_probabilities_recomputed():
    summary = tt.load("ppo_summary")
    printed = tt.load("ppo_deltas").set_index("alpha")
    for metric in ("eval_revenue_mean", "eval_coi_leakage_mean", "eval_coi_level_mean", "eval_volatility_mean"):
        mine = tt.mode_deltas(summary, ["alpha"], metric)
        np.testing.assert_allclose(mine["delta"], printed[f"{metric}_delta"], rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(mine["delta_pct"], printed[f"{metric}_delta_pct"], rtol=1e-9)
        np.testing.assert_allclose(mine["defended"], printed[f"{metric}_robust"], rtol=1e-15)
    overall = tt.load("ppo_overall").set_index("mode")
    means = summary.groupby("mode")["eval_revenue_mean_mean"].mean()
    np.testing.assert_allclose(means, overall.loc[means.index, "eval_revenue_mean_mean"], rtol=1e-12)
    pct = 100 * (
        overall.loc["robust", "eval_revenue_mean_mean"] / overall.loc["no_robust", "eval_revenue_mean_mean"] - 1
    )
    assert round(pct, 2) == CLAIMS["ppo_revenue_pct"]
    wins = tt.load("ppo_wins")
    np.testing.assert_array_equal(tt.win_probability(wins), wins["win_probability"])
    revenue = wins[wins["metric"] == "eval/revenue_mean"]
    assert (revenue["wins"] == CLAIMS["ppo_revenue_wins"]).all() and (
        revenue["total_pairs"] == CLAIMS["ppo_pairs"]
    ).all()


def test_heat_map_rebinned_from_the_raw_histograms():
    raw, heat = tt.load("supra_raw"), tt.load("supra")
    histograms = heatmap.supra_histograms(raw)
    assert len(histograms) == 40 and all(v.sum() == 10 and e.size == 65 for v, e in histograms.values())
    redrawn = heatmap.supra_rebinned(raw)
    np.testing.assert_array_equal(redrawn["step"], heat["step"])
    np.testing.assert_allclose(redrawn["price"], heat["price"], rtol=1e-14)
    np.testing.assert_allclose(redrawn["density"], heat["density"], atol=1e-12)
    older = (THESIS_TABLES_DIR / tt.FILES["supra_figures"]).read_text()
    assert older == (THESIS_TABLES_DIR / tt.FILES["supra"]).read_text() + "\n"
    saturation = heatmap.supra_saturation(redrawn)
    assert saturation["first_saturated_step"] == CLAIMS["supra_top_bin_from_step"]
    assert heatmap.supra_status(saturation, CLAIMS["supra_top_bin_from_step"]) == tt.REPRODUCED
    assert heatmap.supra_status(saturation, 700) == tt.NOT_REPRODUCED


# ------------------------------------------------------------------------------------------
# The re-analysis on hand-worked cases.


def _summary(rows):
    return pd.DataFrame(rows, columns=["alpha", "mode", "runs", "m_mean", "m_std"])


def test_mode_deltas_welch_matches_scipy_from_stats():
    table = _summary([(0.0, "no_robust", 5, 100.0, 4.0), (0.0, "robust", 8, 95.0, 6.0)])
    row = tt.mode_deltas(table, ["alpha"], "m").iloc[0]
    t, p = stats.ttest_ind_from_stats(95.0, 6.0, 8, 100.0, 4.0, 5, equal_var=False)
    assert row["delta"] == -5.0 and row["delta"] / row["se"] == pytest.approx(t)
    assert 2 * stats.t.sf(abs(row["delta"] / row["se"]), row["df"]) == pytest.approx(p)
    assert row["se"] == pytest.approx(math.sqrt(16 / 5 + 36 / 8))
    # delta method for the ratio, by hand
    assert row["pct_se"] == pytest.approx(100 * math.sqrt(36 / 8 / 100**2 + 95**2 * 16 / 5 / 100**4))
    single = tt.mode_deltas(
        _summary([(0.0, "no_robust", 1, 100.0, np.nan), (0.0, "robust", 3, 90.0, 1.0)]), ["alpha"], "m"
    )
    assert bool(single["single_run"].iloc[0]) and np.isnan(single["ci_low"].iloc[0])


def test_separation_p_is_the_exact_mann_whitney_p():
    low, high = np.array([1.0, 2, 3, 4]), np.array([5.0, 6, 7, 8])
    exact = stats.mannwhitneyu(low, high, alternative="less", method="exact").pvalue
    assert tt.separation_p(4, 4) == pytest.approx(exact) == pytest.approx(1 / 70)


def test_rebin_keeps_mass_and_splits_by_overlap():
    grid = np.array([0.0, 1.0, 2.0, 3.0])
    assert heatmap.rebin(np.array([2.0]), np.array([0.5, 1.5]), grid) == pytest.approx([1.0, 1.0, 0.0])
    assert heatmap.rebin(np.array([3.0, 1.0]), np.array([0.0, 1.5, 3.0]), grid) == pytest.approx(
        [2.0, 1 + 1 / 3, 2 / 3]
    )


def _grid(slope_high: float, noise: float, seed: int = 0, slope_low: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for alpha in np.round(np.linspace(0, 1, 11), 1):
        for size in (5.0, 25.0, 50.0, 100.0):
            effect = (slope_high if alpha >= 0.7 else slope_low) * np.log10(size)
            rows.append(
                {
                    "alpha": alpha,
                    "n_products": size,
                    "baseline_runs": 8,
                    "defended_runs": 8,
                    "coi_preserved": effect + noise * math.sqrt(2 / 8) * rng.standard_normal(),
                }
            )
    return pd.DataFrame(rows)


def test_catalogue_test_recovers_a_planted_slope_and_sigma():
    test = tt.catalogue_test(_grid(slope_high=2.0, noise=0.5, seed=1))
    assert test["high_low"] < 2.0 < test["high_high"] and test["low_low"] < 0 < test["low_high"]
    additive = tt.catalogue_test(_grid(slope_high=1.0, slope_low=1.0, noise=0.5, seed=4))
    assert 0.3 < additive["sigma"] < 0.7  # planted per-run SD 0.5; its estimate's SD is about 0.07 (30 df)
    assert tt.catalogue_status(test) == tt.REPRODUCED
    flat = tt.catalogue_test(_grid(slope_high=0.0, noise=0.5, seed=2))
    assert tt.catalogue_status(flat) in {tt.WITHIN_NOISE, tt.NOT_REPRODUCED}
    assert tt.catalogue_status(tt.catalogue_test(_grid(slope_high=-2.0, noise=0.5, seed=3))) == tt.NOT_REPRODUCED


def _shifted_table(eps: float, sd: float, shifted: bool) -> pd.DataFrame:
    alphas = np.round(np.linspace(0, 1, 11), 1)
    base = 1000.0 - 400.0 * alphas
    defended = np.interp(np.minimum(alphas + eps, 1), alphas, base) if shifted else base.copy()
    rows = [(a, "no_robust", 50, b, sd) for a, b in zip(alphas, base)]
    rows += [(a, "robust", 50, d, sd) for a, d in zip(alphas, defended)]
    return tt.mode_deltas(_summary(rows), ["alpha"], "m")


def test_shift_fit_tells_a_shifted_table_from_an_unshifted_one():
    fit = tt.shift_fit(_shifted_table(0.2, 5.0, shifted=True), 0.2)
    assert fit.stats["chi2_shifted"] == pytest.approx(0, abs=1e-18) and tt.shift_status(fit) == "explains it"
    assert fit.stats["rows"] == 11 and fit.stats["best_eps"] == 0.2
    assert fit.stats["predicted_mean_pct"] == pytest.approx(fit.stats["observed_mean_pct"])
    assert tt.shift_status(tt.shift_fit(_shifted_table(0.2, 5.0, shifted=False), 0.2)) == "does not fit"
    assert tt.shift_status(tt.shift_fit(_shifted_table(0.2, 500.0, shifted=False), 0.2)) == "fits, but so does no shift"


def test_shift_fit_scores_only_shares_inside_the_table():
    deltas = _shifted_table(0.2, 5.0, shifted=True).loc[[0.0, 0.1, 0.2, 0.4, 0.6, 0.8]]
    fit = tt.shift_fit(deltas, 0.2)
    assert fit.table["in_range"].tolist() == [True, True, True, True, True, False]


def test_pair_wins_counts_every_pair():
    learners = pd.DataFrame(
        {"alpha0": [0.0] * 5, "variant": ["defended"] * 2 + ["baseline"] * 3, "revenue": [5.0, 2.0, 1.0, 2.0, 6.0]}
    )
    row = tt.pair_wins(learners, "revenue").iloc[0]
    assert (row["wins"], row["ties"], row["total_pairs"]) == (3, 1, 6) and row["win_probability"] == pytest.approx(
        3.5 / 6
    )
    lower = tt.pair_wins(learners, "revenue", lower_is_better=True).iloc[0]
    assert (lower["wins"], lower["ties"]) == (2, 1)


# ------------------------------------------------------------------------------------------
# Status rules at their boundaries.


def test_cost_status_at_its_boundaries():
    shift = tt.artefact_of(tt.SHIFT_CHOICE)
    assert tt.cost_status({"mean": -2.0, "low": -5.0, "high": 0.0}, -3.0, -9.0) == tt.WITHIN_NOISE
    assert tt.cost_status({"mean": 1.0, "low": -1.0, "high": 3.0}, -3.0, -9.0) == tt.NOT_REPRODUCED
    assert tt.cost_status({"mean": -3.0, "low": -5.0, "high": -0.01}, -3.0, -5.0) == shift
    assert tt.cost_status({"mean": -3.0, "low": -5.0, "high": -0.01}, -3.0, -5.01) == tt.REPRODUCED
    assert tt.cost_status({"mean": -6.0, "low": -8.0, "high": -3.01}, -3.0, -9.0) == tt.NOT_REPRODUCED


def test_narrowing_status_at_its_boundaries():
    wide, above = {"diff": 1.0, "low": -0.1, "high": 2.1}, {"diff": 1.0, "low": 0.01, "high": 2.0}
    flat, still = {"diff": 0.0, "low": -0.5, "high": 0.5}, {"diff": 1.0, "low": 0.2, "high": 1.8}
    assert tt.narrowing_status(wide, flat) == tt.WITHIN_NOISE
    assert tt.narrowing_status({**wide, "diff": -0.1}, flat) == tt.NOT_REPRODUCED
    assert tt.narrowing_status(above, flat) == tt.artefact_of(tt.SHIFT_CHOICE + ", capped at 1")
    assert tt.narrowing_status(above, still) == tt.REPRODUCED


def test_zone_test_counts_supporting_cells():
    alpha = np.round(np.linspace(0, 1, 11), 1)
    values = np.where(alpha >= 0.7, [0, 0, 0, 0, 0, 0, 0, 1, 2, -9, 3], -1.0).astype(float)
    test = tt.zone_test(alpha, values)
    assert (test["high_cells"], test["low_cells"], test["supporting"]) == (4, 7, 3)
    assert test["diff"] == pytest.approx(np.mean([1, 2, -9, 3]) + 1.0)


def test_leakage_and_pairs_status_at_their_boundaries():
    pooled = {"negative": 6.0, "cells": 6.0, "high": -0.001}
    assert tt.leakage_status(pooled, 11, 11, "does not fit") == tt.REPRODUCED
    assert tt.leakage_status(pooled, 11, 11, "explains it") == tt.artefact_of(tt.SHIFT_CHOICE)
    assert tt.leakage_status({**pooled, "high": 0.0}, 11, 11, "explains it") == tt.WITHIN_NOISE
    assert tt.leakage_status(pooled, 10, 11, "explains it") == tt.NOT_REPRODUCED
    revenue = pd.DataFrame({"ci_high": [-1.0, -0.01]})
    assert tt.pairs_status(pd.Series([0.0, 0.0]), revenue, "fits, but so does no shift") == tt.REPRODUCED
    assert tt.pairs_status(pd.Series([0.0, 0.0]), revenue, "explains it") == tt.artefact_of(tt.SHIFT_CHOICE)
    assert tt.pairs_status(pd.Series([0.0, 0.0]), pd.DataFrame({"ci_high": [-1.0, 0.0]}), "x") == tt.WITHIN_NOISE
    assert tt.pairs_status(pd.Series([0.0, 1 / 32]), revenue, "x") == tt.NOT_REPRODUCED


def test_printed_status_is_half_a_unit_of_the_last_digit():
    assert tt.printed_status(2185.1349, 2185.13) == tt.REPRODUCED
    assert tt.printed_status(2185.1351, 2185.13) == tt.NOT_REPRODUCED
