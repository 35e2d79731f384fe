"""The thesis's published runs: its regression recomputed, what the rows hold, the implied mass and the
shift test, on the shipped tables and on hand-made ones whose answers are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phantom_lib.published import (
    BASELINE_REGRESSION,
    DEFENCE_REVENUE_DELTA_PCT,
    RUNS_CARD,
)
from phantom_lib.study.analysis import thesis_runs as tr


@pytest.fixture(scope="module")
def runs() -> pd.DataFrame:
    return tr.load_runs()


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return tr.load_alpha_summary()


def test_the_published_regression_is_recomputed_from_the_runs(runs):
    fit = tr.alpha_fit(runs)
    assert fit["n"] == RUNS_CARD["rows"]
    for key in ("intercept", "slope"):
        assert fit[key] == pytest.approx(BASELINE_REGRESSION[key], rel=1e-6)
    assert round(fit["r2"], 3) == BASELINE_REGRESSION["r2"]  # published to 3 decimals
    assert round(fit["se_hc1"]) == BASELINE_REGRESSION["slope_se_hc1"]  # published to the unit


def test_fit_and_its_three_standard_errors_match_the_textbook_formulas(runs):
    # independent of statsmodels: closed-form OLS, HC1 and cluster-robust (CR1) sandwich
    x, y = runs["alpha"].to_numpy(), runs["revenue"].to_numpy()
    n, k = len(x), 2
    sxx = np.sum((x - x.mean()) ** 2)
    slope = np.sum((x - x.mean()) * (y - y.mean())) / sxx
    e = y - (y.mean() - slope * x.mean()) - slope * x
    score = e * (x - x.mean())
    cells = runs.groupby(["alpha", "seed"]).ngroup().to_numpy()
    g = cells.max() + 1
    cluster = np.bincount(cells, weights=score)
    fit = tr.alpha_fit(runs)
    assert fit["slope"] == pytest.approx(slope, rel=1e-12)
    assert fit["r2"] == pytest.approx(1 - np.sum(e**2) / np.sum((y - y.mean()) ** 2), rel=1e-12)
    assert fit["se_iid"] == pytest.approx(np.sqrt(np.sum(e**2) / (n - k) / sxx), rel=1e-10)
    assert fit["se_hc1"] == pytest.approx(np.sqrt(n / (n - k) * np.sum(score**2)) / sxx, rel=1e-10)
    cr1 = g / (g - 1) * (n - 1) / (n - k)
    assert fit["se_cluster"] == pytest.approx(np.sqrt(cr1 * np.sum(cluster**2)) / sxx, rel=1e-10)
    assert fit["n_clusters"] == g


def test_rows_hold_the_outcomes_the_card_states(runs):
    counts = tr.outcome_counts(runs)
    assert {k: counts[k] for k in RUNS_CARD} == RUNS_CARD
    assert counts["cells_with_several_outcomes"] == RUNS_CARD["distinct_outcomes"] - RUNS_CARD["cells"]
    assert tr.distinct_runs(runs)["copies"].sum() == RUNS_CARD["rows"]


def test_copying_runs_changes_nothing_once_each_outcome_counts_once(runs):
    copied = pd.concat([runs, runs.assign(run_id=runs["run_id"] + "-copy")], ignore_index=True)
    assert tr.alpha_fit(copied)["slope"] == pytest.approx(tr.alpha_fit(runs)["slope"], rel=1e-12)
    assert tr.alpha_fit(copied)["se_iid"] < tr.alpha_fit(runs)["se_iid"]  # copies fake precision
    pd.testing.assert_series_equal(tr.revenue_regressions(copied).loc["distinct outcomes"],
                                   tr.revenue_regressions(runs).loc["distinct outcomes"])


def test_one_row_per_cell_makes_the_cluster_se_the_hc1_se():
    frame = pd.DataFrame({"alpha": np.repeat([0.0, 0.5, 1.0], 2), "seed": [42, 1337] * 3,
                          "revenue": [10.0, 12.0, 7.0, 9.5, 5.0, 4.0]})
    fit = tr.alpha_fit(frame)
    assert fit["n_clusters"] == 6
    assert fit["se_cluster"] == pytest.approx(fit["se_hc1"], rel=1e-12)


def test_implied_mass_on_hand_rows_and_the_identity_on_every_published_row(runs):
    hand = pd.DataFrame({"revenue": [1000.0, 1000.0], "reward": [900.0, 999.0]})
    out = tr.implied_mass(hand, p_low=10.0, p_high=150.0, steps=5)
    np.testing.assert_allclose(out["mass_per_episode"], [10.0, 0.1])
    np.testing.assert_allclose(out["mass_per_step"], [2.0, 0.02])
    np.testing.assert_allclose(out["implied_price"], [100.0, 10_000.0])
    assert out["identity_holds"].tolist() == [True, False]
    assert tr.implied_mass(runs)["identity_holds"].all()


def test_mass_by_alpha_and_its_comparison(runs, summary):
    by_alpha = tr.mass_by_alpha(runs, summary)
    assert by_alpha["outcomes"].sum() == RUNS_CARD["distinct_outcomes"]
    first = summary.iloc[0]
    assert by_alpha["table_mass_per_episode"].iloc[0] == pytest.approx(
        (first["baseline_revenue"] - first["baseline_reward"]) / tr.P_LOW)
    same = tr.mass_comparison(by_alpha, 2.0, 2.0)
    np.testing.assert_allclose(same["implied_sessions"], by_alpha["mass_per_step"] / 2.0)
    np.testing.assert_allclose(tr.mass_comparison(by_alpha, 4.0, 1.0)["predicted_relative"],
                               1 - 0.75 * by_alpha.index.to_numpy())


def test_defence_deltas_reproduce_the_published_column_and_headlines(summary):
    deltas = tr.defence_deltas(summary)
    # revenues are published to 2 decimals, the column to 4: they agree to its rounding
    assert np.max(np.abs(deltas["delta_pct"] - deltas["published_pct"])) <= 0.5e-4 + 1e-6
    decimals = {"mean over alpha in [0, 1]": 2, "alpha >= 0.7": 1, "alpha < 0.7": 1, "alpha = 1": 2}
    ours = tr.delta_headlines(deltas)
    for key, published in DEFENCE_REVENUE_DELTA_PCT.items():
        assert round(ours[key], decimals[key]) == pytest.approx(published, abs=1e-12), key


def linear_table(defended_shift: float) -> pd.DataFrame:
    alpha = np.round(np.arange(11) * 0.1, 1)
    base = 300.0 - 100.0 * alpha
    defended = 300.0 - 100.0 * np.minimum(alpha + defended_shift, 1.0)
    return pd.DataFrame({"alpha": alpha, "baseline_revenue": base, "defended_revenue": defended})


def test_shift_test_finds_an_exact_shift_and_no_shift():
    exact = tr.shift_test(linear_table(0.2), eps=0.2)
    assert exact.stats["rmse_shifted"] == pytest.approx(0.0, abs=1e-9)
    assert exact.stats["best_eps"] == pytest.approx(0.2)
    assert exact.stats["r2"] == pytest.approx(1.0)
    assert exact.stats["rmse_baseline_line"] == pytest.approx(0.0, abs=1e-9)
    # the capped share: at alpha >= 0.8 defended equals the baseline at 1
    assert exact.table.loc[0.9, "shifted"] == pytest.approx(200.0)
    none = tr.shift_test(linear_table(0.0), eps=0.2)
    assert none.stats["rmse_unshifted"] == pytest.approx(0.0, abs=1e-9)
    assert none.stats["best_eps"] == 0.0
    assert none.stats["rmse_shifted"] > 0


def test_shift_test_by_hand_between_rows():
    # a shift of 0.05 on a 0.1 grid interpolates linearly: baseline 300, 200 -> 250 at 0.05
    table = pd.DataFrame({"alpha": [0.0, 0.1], "baseline_revenue": [300.0, 200.0], "defended_revenue": [260.0, 200.0]})
    out = tr.shift_test(table, eps=0.05)
    np.testing.assert_allclose(out.table["shifted"], [250.0, 200.0])
    np.testing.assert_allclose(out.table["residual"], [10.0, 0.0])
    assert out.stats["rmse_shifted"] == pytest.approx(np.sqrt(50.0))
    assert out.stats["mean_pct"] == pytest.approx((100 * 10 / 250 + 0) / 2)


def write(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    frame.to_csv(folder / name, index=False)
    return folder


def test_a_broken_runs_file_lists_every_problem(tmp_path: Path, runs):
    bad = runs.copy()
    bad.loc[0, "alpha"] = 0.35
    bad.loc[1, "run_id"] = bad.loc[2, "run_id"]
    bad.loc[3, "reward"] = bad.loc[3, "revenue"] + 1
    bad.loc[4, "seed"] = 5
    with pytest.raises(tr.ThesisDataError) as error:
        tr.load_runs(write(tmp_path, tr.RUNS_FILE, bad))
    for part in ("run_id must be unique", "alpha must lie on the sweep's "
                                          "grid", "reward exceeds revenue", "seed must be one of"):
        assert part in str(error.value)


def test_missing_files_columns_and_numbers_are_clear_errors(tmp_path: Path, summary):
    with pytest.raises(tr.ThesisDataError, match="is missing: the thesis's run tables ship in data/published/"):
        tr.load_runs(tmp_path)
    broken = summary.drop(columns="defended_reward").astype({"baseline_revenue": object})
    broken.loc[2, "baseline_revenue"] = "n/a"
    with pytest.raises(tr.ThesisDataError, match=r"missing column\(s\) \['defended_reward'\]") as error:
        tr.load_alpha_summary(write(tmp_path, tr.SUMMARY_FILE, broken))
    assert "column 'baseline_revenue' must hold finite numbers; rows [2]" in str(error.value)
    with pytest.raises(ValueError, match="eps"):
        tr.shift_test(summary, eps=1.5)
