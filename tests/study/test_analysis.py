"""Sweep statistics on small hand-made result tables whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from phantom_lib.study.analysis import estimands as sa


def table(rows: list[dict]) -> sa.SweepResults:
    return sa.SweepResults(pd.DataFrame(rows), provenance={}, n_failed=0)


def cell(algorithm, alpha0, seed, variant, revenue, eps=0.15, lam=0.15):
    return {"algorithm": algorithm, "alpha0": alpha0, "eps_alpha": eps, "lambda_coi": lam, "action_levels": 5,
            "seed": seed, "variant": variant, "revenue": revenue}


def test_paired_deltas_and_seed_intervals_by_hand():
    rows = []
    # seed 0: defended 90, 110 vs twin 100 -> 0 %; seed 1: defended 95, 95 vs twin 100 -> -5 %
    for seed, values in ((0, (90.0, 110.0)), (1, (95.0, 95.0))):
        rows.append(cell("ppo", 0.1, seed, "baseline", 100.0, eps=0.0, lam=0.0))
        rows += [cell("ppo", 0.1, seed, "defended", v, lam=lam) for v, lam in zip(values, (0.15, 0.3))]
    res = table(rows)
    pairs = sa.paired(res, "revenue")
    assert len(pairs) == 4 and (pairs["baseline"] == 100.0).all()
    out = sa.deltas_by(pairs, "alpha0")
    row = out[out["alpha0"] == 0.1].iloc[0]
    assert row["mean"] == pytest.approx(-2.5)
    half = stats.t.ppf(0.975, 1) * np.std([0.0, -5.0], ddof=1) / np.sqrt(2)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((-2.5 - half, -2.5 + half))
    assert out.iloc[-1]["alpha0"] == "all" and out.iloc[-1]["n_pairs"] == 4


def test_a_defended_trial_without_twin_is_dropped_and_a_duplicate_twin_is_an_error():
    rows = [cell("ppo", 0.1, 0, "defended", 1.0), cell("a2c", 0.1, 0, "defended", 1.0),
            cell("ppo", 0.1, 0, "baseline", 2.0, eps=0.0, lam=0.0)]
    assert sa.paired(table(rows), "revenue")["algorithm"].tolist() == ["ppo"]
    with pytest.raises(pd.errors.MergeError):
        sa.paired(table(rows + [rows[-1]]), "revenue")


def test_slope_recovers_an_exact_line_and_win_rates_count_ties_half():
    alpha0 = np.array([0.1, 0.25, 0.4, 0.6] * 2)
    noise = np.array([1, -1, 1, -1, -1, 1, -1, 1]) * 0.5
    frame = pd.DataFrame({"alpha0": alpha0, "revenue": 1000 - 200 * alpha0 + noise})
    fit = sa.slope(frame)
    assert fit["slope"] == pytest.approx(-200, abs=5) and fit["ci_low"] < -200 < fit["ci_high"]
    assert fit["slope_pct_of_intercept"] == pytest.approx(-20, abs=0.6)
    rows = []
    for seed, (a, b, c) in enumerate([(3, 1, 2), (1, 1, 2)]):
        rows += [cell("ppo", 0.1, seed, "defended", a), cell("dqn", 0.1, seed, "defended", b),
                 cell("a2c", 0.1, seed, "defended", c)]
    wins = sa.win_rates(pd.DataFrame(rows), "revenue")
    assert wins.loc["ppo", "dqn"] == 0.75  # one win, one tie
    assert wins.loc["a2c", "ppo"] == 0.5 and np.isnan(wins.loc["ppo", "ppo"])


def test_factor_tests_find_a_planted_effect_and_not_a_null_one():
    rng = np.random.default_rng(0)
    rows = []
    for algorithm in ("ppo", "dqn"):
        for alpha0 in (0.1, 0.4):
            for eps in (0.0, 0.3):
                for seed in range(6):
                    revenue = 100 + (20 if algorithm == "ppo" else 0) + rng.normal(0, 1)
                    rows.append(cell(algorithm, alpha0, seed, "defended", revenue, eps=eps))
    frame = pd.DataFrame(rows)
    tests = sa.factor_tests(frame, ["revenue"]).set_index("term")
    assert tests.loc["algorithm", "p"] < 1e-6
    assert tests.loc["alpha0", "p"] > 0.01 and tests.loc["eps_alpha", "p"] > 0.01
    assert "algorithm:alpha0" in tests.index  # two-way terms are tested
    effects = sa.main_effects(frame, "revenue").set_index(["factor", "level"])
    assert effects.loc[("algorithm", "ppo"), "effect"] == pytest.approx(20, abs=1)


def test_load_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="phantom sweep"):
        sa.load(tmp_path)
    pd.DataFrame([{"status": "ok", "m_revenue": 1.0}]).to_parquet(tmp_path / "results.parquet")
    (tmp_path / "provenance.json").write_text(json.dumps({"design": {}}))
    loaded = sa.load(tmp_path)  # a design without twins or references: its trials are the cells as given
    assert loaded.defended["revenue"].tolist() == [1.0] and loaded.baseline.empty and loaded.references.empty


def test_a_design_without_an_action_levels_factor_loads_with_the_default_and_pairs(tmp_path):
    rows = [cell("ppo", 0.1, 0, "baseline", 100.0, eps=0.0, lam=0.0), cell("ppo", 0.1, 0, "defended", 90.0)]
    frame = pd.DataFrame(rows).drop(columns="action_levels").rename(columns={"revenue": "m_revenue"})
    frame.assign(status="ok").to_parquet(tmp_path / "results.parquet")
    (tmp_path / "provenance.json").write_text(json.dumps({"design": {}}))
    res = sa.load(tmp_path)
    assert (res.trials["action_levels"] == sa.EnvConfig().action_levels).all()
    pairs = sa.paired(res, "revenue")
    assert pairs[["defended", "baseline"]].values.tolist() == [[90.0, 100.0]]


def test_paper_table_leaves_alphas_outside_the_design_empty():
    pairs = pd.DataFrame({"alpha0": [0.1, 0.6, 0.1, 0.6], "seed": [0, 0, 1, 1],
                          "defended": [95.0, 99.0, 100.0, 100.0], "baseline": [100.0, 100.0, 100.0, 100.0]})
    paper = sa.paper_table(pairs, {"slope_pct_of_intercept": -3.0}).set_index("quantity")["this book"]
    assert paper.iloc[0] == pytest.approx(-1.5)  # seed 0: (97 - 100) / 100; seed 1: 0
    assert paper.iloc[0] == pytest.approx(sa.deltas_by(pairs).iloc[-1]["mean"])
    assert np.isnan(paper.iloc[1]) and np.isnan(paper.iloc[3])


def test_delta_definitions_by_hand():
    # ppo: alpha0 0.1 (seed 0) 90 vs 100 and alpha0 0.4 (seed 1) 30 vs 20; a2c: 100 vs 100 (seed 0)
    pairs = pd.DataFrame({
        "algorithm": ["ppo", "ppo", "a2c"], "alpha0": [0.1, 0.4, 0.1], "seed": [0, 1, 0],
        "defended": [90.0, 30.0, 100.0], "baseline": [100.0, 20.0, 100.0],
    })
    out = sa.delta_definitions(pairs, "algorithm")
    assert list(out.index) == ["all", "a2c", "ppo"]
    ppo = out.loc["ppo"]
    assert ppo["ratio_of_means"] == pytest.approx(100 * (60 - 60) / 60)  # 0 %
    assert ppo["mean_of_ratios"] == pytest.approx(100 * (-0.1 + 0.5) / 2)  # +20 %
    assert ppo["per_seed"] == pytest.approx((-10 + 50) / 2)
    assert ppo["mean_over_alpha0"] == pytest.approx((-10 + 50) / 2)
    pooled = out.loc["all"]
    assert pooled["ratio_of_means"] == pytest.approx(100 * (220 / 3 - 220 / 3) / (220 / 3))
    assert pooled["mean_of_ratios"] == pytest.approx(100 * (-0.1 + 0.5 + 0.0) / 3)
    # seed 0: (190 - 200) / 200 = -5 %, seed 1: +50 %; alpha0 0.1: -5 %, alpha0 0.4: +50 %
    assert pooled["per_seed"] == pytest.approx(22.5)
    assert pooled["mean_over_alpha0"] == pytest.approx(22.5)
    assert out["n_pairs"].tolist() == [3, 1, 2]


def _results(trials: list[dict]) -> sa.SweepResults:
    from phantom_lib import study

    return study.SweepResults(pd.DataFrame(trials), {}, 0)


def test_collapse_rule_by_hand():
    from phantom_lib.study.analysis import estimands as analysis

    cell = {"alpha0": 0.1, "action_levels": 5, "seed": 0, "lambda_coi": 0.15, "eps_alpha": 0.0}
    res = _results([
        {**cell, "algorithm": "best_fixed", "variant": "reference", "revenue": 100.0},
        {**cell, "algorithm": "ppo", "variant": "defended", "revenue": 49.0},
        {**cell, "algorithm": "dqn", "variant": "defended", "revenue": 50.0},
        {**cell, "algorithm": "ppo", "variant": "baseline", "revenue": 120.0},
    ])
    flags = analysis.collapsed(res).set_index(["algorithm", "variant"])["collapsed"]
    assert flags.to_dict() == {("ppo", "defended"): True, ("dqn", "defended"): False, ("ppo", "baseline"): False}
    with pytest.raises(ValueError, match="no best_fixed"):
        analysis.collapsed(_results([{**cell, "algorithm": "ppo", "variant": "defended", "revenue": 1.0}]))


def test_clustered_delta_by_hand_and_its_interval_resamples_twins():
    from phantom_lib.study.analysis import estimands as analysis

    # two twin groups: one twin serves two defended cells (+10 % each), the other one (-10 %)
    pairs = pd.DataFrame({
        "algorithm": ["ppo"] * 3, "alpha0": [0.1, 0.1, 0.4], "action_levels": [5] * 3, "seed": [0, 0, 0],
        "defended": [110.0, 110.0, 90.0], "baseline": [100.0, 100.0, 100.0]})
    out = analysis.clustered_delta(pairs, n_boot=2000, seed=1)
    assert out["mean"] == pytest.approx(100 * (310 - 300) / 300)
    assert out["median_pair"] == pytest.approx(10.0) and (out["n_pairs"], out["n_clusters"]) == (3, 2)
    # every resample is a mix of the two groups: +10 % (both from the first) to -10 % (both from the second)
    assert out["ci_low"] == pytest.approx(-10.0) and out["ci_high"] == pytest.approx(10.0)


def test_placebo_contrast_by_hand_resamples_twins_and_cancels_a_common_artefact():
    # group A (twin 100): placebo 100 (0 %), robust 90 (-10 %); group B (twin 200): both 190 (-5 %)
    pairs = pd.DataFrame({
        "algorithm": ["ppo"] * 4, "alpha0": [0.1, 0.1, 0.4, 0.4], "action_levels": [5] * 4, "seed": [0] * 4,
        "eps_alpha": [0.0, 0.15, 0.0, 0.15], "defended": [100.0, 90.0, 190.0, 190.0],
        "baseline": [100.0, 100.0, 200.0, 200.0]})
    out = sa.placebo_contrast(pairs, n_boot=2000, seed=3)
    assert out["robust"] == pytest.approx(100 * (280 - 300) / 300)
    assert out["placebo"] == pytest.approx(100 * (290 - 300) / 300)
    assert out["contrast"] == pytest.approx(-100 * 10 / 300) and (out["n_robust"], out["n_placebo"]) == (2, 2)
    # resamples: A twice -10 - 0; B twice -5 - (-5) = 0; one of each in between
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((-10.0, 0.0))
    same = pairs.assign(defended=pairs["baseline"] * (1 - 0.0138))  # one training artefact in every pair
    assert sa.placebo_contrast(same, n_boot=200)["contrast"] == pytest.approx(0.0, abs=1e-12)
    assert sa.bootstrap_deltas(same, n_boot=50, split=~sa.is_placebo(same)) == pytest.approx(np.zeros(50), abs=1e-9)
    with pytest.raises(ValueError, match="placebo_contrast needs pairs with eps_alpha = 0"):
        sa.placebo_contrast(pairs[pairs["eps_alpha"] > 0])


def test_per_share_summary_by_hand():
    from phantom_lib.study.analysis import estimands as analysis

    rows = [{"alpha0": a, "variant": v, "algorithm": "ppo", "revenue": r}
            for a, v, r in [(0.0, "baseline", 10.0), (0.0, "baseline", 12.0), (0.0, "defended", 9.0),
                            (0.5, "baseline", 8.0), (0.5, "defended", 6.0), (0.5, "defended", 8.0)]]
    table = analysis.per_share_summary(_results(rows), steps=100)
    assert table["alpha"].tolist() == [0.0, 0.5]
    assert table["baseline_revenue"].tolist() == [1100.0, 800.0]
    assert table["defended_revenue"].tolist() == [900.0, 700.0]
    assert (table["baseline_runs"].tolist(), table["defended_runs"].tolist()) == ([2, 1], [1, 2])
    assert table["revenue_delta_pct"].tolist() == pytest.approx([100 * (9 / 11 - 1), 100 * (7 / 8 - 1)])
