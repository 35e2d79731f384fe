"""Matching two runs of one design: hand-made runs whose changes are known."""

import numpy as np
import pandas as pd
import pytest

from phantom_lib.study import SweepResults
from phantom_lib.study.analysis import rerun


def _run(revenue, reward, seeds, trial_ids) -> SweepResults:
    n = len(seeds)
    trials = pd.DataFrame({
        "trial_id": trial_ids, "algorithm": ["ppo"] * n, "alpha0": [0.1] * n, "eps_alpha": [0.0] * n,
        "lambda_coi": [0.15] * n, "action_levels": [5] * n, "variant": ["defended"] * n, "seed": seeds,
        "revenue": revenue, "reward": reward, "train_seconds": np.arange(n, dtype=float),
    })
    return SweepResults(trials, {}, 0)


def test_trials_match_by_configuration_whatever_their_ids_and_timings():
    before = _run([100.0, 200.0, 50.0], [1.0, 2.0, np.nan], [0, 1, 2], ["a-n_candidates", "b", "c"])
    after = _run([100.0, 210.0, 50.0, 80.0], [1.0, 2.0, np.nan, 1.0], [0, 1, 2, 3], ["a", "b", "c", "d"])
    after.trials["train_seconds"] += 5.0  # timings differ, and are not compared
    out = rerun.matched_trials(before, after).set_index("seed")
    assert out["present"].to_dict() == {0: "both", 1: "both", 2: "both", 3: "after only"}
    assert out["identical"].to_dict() == {0: True, 1: False, 2: True, 3: False}  # NaN equals NaN
    assert out.loc[1, "change_pct"] == pytest.approx(5.0)
    assert out.loc[0, "change_pct"] == 0.0 and np.isnan(out.loc[3, "before"])
    assert out["largest_change_pct"].iloc[:3].tolist() == [0.0, pytest.approx(5.0), 0.0]
    assert np.isnan(out.loc[3, "largest_change_pct"])


def test_a_change_in_a_metric_not_shown_still_breaks_identity():
    before = _run([100.0], [1.0], [0], ["a"])
    after = _run([100.0], [1.5], [0], ["a"])
    out = rerun.matched_trials(before, after, metric="revenue")
    assert out["change_pct"].tolist() == [0.0] and out["identical"].tolist() == [False]
    assert out["largest_change_pct"].tolist() == [pytest.approx(50.0)]  # the reward's change


def test_a_metric_at_zero_counts_its_absolute_change_and_nan_on_one_side_is_infinite():
    out = rerun.matched_trials(_run([0.0, 1.0], [1.0, 1.0], [0, 1], ["a", "b"]),
                               _run([0.25, 1.0], [1.0, np.nan], [0, 1], ["a", "b"]))
    assert out["largest_change_pct"].tolist() == [pytest.approx(25.0), np.inf]


def test_two_trials_with_one_configuration_and_an_unshared_metric_are_refused():
    twice = _run([1.0, 2.0], [1.0, 1.0], [0, 0], ["a", "b"])
    with pytest.raises(ValueError, match="two trials with the same configuration"):
        rerun.matched_trials(twice, _run([1.0], [1.0], [0], ["a"]))
    with pytest.raises(ValueError, match="not recorded by both runs"):
        rerun.matched_trials(_run([1.0], [1.0], [0], ["a"]), _run([1.0], [1.0], [0], ["a"]), metric="profit")


def test_a_factor_the_design_names_beyond_the_factorial_s_tells_trials_apart():
    def run(defences, revenue):
        base = _run(revenue, [1.0] * len(revenue), [0] * len(revenue), [f"t{i}" for i in range(len(revenue))])
        base.trials["defence"] = defences
        return SweepResults(base.trials, {"design": {"factors": {"algorithm": ["ppo"], "defence": defences}}}, 0)

    before, after = run(["none", "robust"], [100.0, 50.0]), run(["robust", "none"], [55.0, 100.0])
    assert rerun.match_keys(before, after) == (*rerun.MATCH_KEYS, "defence")
    out = rerun.matched_trials(before, after).set_index("defence")
    assert out.loc["none", "identical"] and out.loc["robust", "change_pct"] == pytest.approx(10.0)
    with pytest.raises(ValueError, match=r"the before run's trials lack \['defence'\]"):
        rerun.matched_trials(_run([1.0, 2.0], [1.0, 1.0], [0, 0], ["a", "b"]), after)  # before has no defence


def test_the_summary_counts_matched_and_identical_trials_and_the_size_of_the_changes():
    """Hand-worked: seeds 0-3 before, 1-4 after; seed 1 moves +10 %, seed 2 -20 %, seed 3 not at
    all: 3 matched, 1 identical, |changes| 10, 20, 0 (median 10, largest 20)."""
    before = _run([100.0, 100.0, 50.0, 80.0], [1.0] * 4, [0, 1, 2, 3], ["a", "b", "c", "d"])
    after = _run([110.0, 40.0, 80.0, 5.0], [1.0] * 4, [1, 2, 3, 4], ["b", "c", "d", "e"])
    assert rerun.summary(before, after) == {
        "n_matched": 3, "n_identical": 1, "change_median": pytest.approx(10.0), "change_max": pytest.approx(20.0)}
    empty = rerun.summary(_run([1.0], [1.0], [0], ["a"]), _run([1.0], [1.0], [9], ["z"]))
    assert empty["n_matched"] == 0 and np.isnan(empty["change_median"])
