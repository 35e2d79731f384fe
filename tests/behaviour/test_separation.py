"""The cohort test and f as a classifier, against scipy/scikit-learn and hand-worked cases."""

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics

from phantom_lib.behaviour import separation as cohort
from phantom_lib.behaviour.distinguish import pair_counts
from phantom_lib.behaviour.kernels import sample_paths


def sample(seed=0, shift=1.0, n_agent=16, n_human=13):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(shift, 2.0, n_agent), rng.normal(0.0, 2.0, n_human)])
    return values, np.repeat([1, 0], [n_agent, n_human])


def test_u_statistic_by_hand_with_ties():
    # agent (3, 5) vs human (1, 3, 4): 3>1, 3=3 (1/2), 5>1, 5>3, 5>4  -> U = 4.5
    assert cohort.u_statistic([3, 5], [1, 3, 4]) == 4.5
    mw = cohort.mann_whitney([3.0, 5.0], [1.0, 3.0, 4.0])
    assert mw.rank_biserial == pytest.approx(2 * 4.5 / 6 - 1)
    assert mw.method == "asymptotic"


@pytest.mark.parametrize("ties", [False, True])
def test_mann_whitney_equals_scipy(ties):
    values, is_agent = sample(seed=3)
    if ties:
        values = np.round(values)
    agent, human = values[is_agent == 1], values[is_agent == 0]
    method = "asymptotic" if ties else "exact"
    reference = stats.mannwhitneyu(agent, human, alternative="two-sided", method=method)
    mw = cohort.mann_whitney(agent, human)
    assert mw.method == method
    assert mw.u == reference.statistic
    assert mw.p == pytest.approx(reference.pvalue, rel=1e-12)
    test = cohort.cohort_test(values, is_agent)
    assert test.test.u == reference.statistic and test.test.p == pytest.approx(reference.pvalue, rel=1e-12)


def test_batched_mann_whitney_equals_one_test_per_row():
    rng = np.random.default_rng(1)
    agent, human = rng.normal(0.5, 1, (5, 7)), rng.normal(0, 1, (5, 6))
    human[2, 0] = agent[2, 3]  # a tie in row 2 only
    batch = cohort.mann_whitney(agent, human)
    assert batch.method.tolist() == ["exact", "exact", "asymptotic", "exact", "exact"]
    for i in range(5):
        one = cohort.mann_whitney(agent[i], human[i])
        assert (batch.u[i], batch.p[i]) == (one.u, one.p)


def test_group_summary_uses_population_std():
    summary = cohort.group_summary([1.0, 2.0, 3.0, 10.0, 20.0], [0, 0, 0, 1, 1])
    assert summary.loc["human"].to_dict() == pytest.approx({"n": 3, "mean": 2.0, "std": np.sqrt(2 / 3), "median": 2.0})
    assert summary.loc["agent", "std"] == pytest.approx(5.0)


def test_bootstrap_and_permutation_are_reproducible_from_the_seed():
    values, is_agent = sample(seed=4)
    config = cohort.CohortConfig(n_boot=500, n_perm=500, seed=11)
    a, b = cohort.cohort_test(values, is_agent, config), cohort.cohort_test(values, is_agent, config)
    assert (a.median_ci, a.permutation) == (b.median_ci, b.permutation)
    c = cohort.cohort_test(values, is_agent, cohort.CohortConfig(n_boot=500, n_perm=500, seed=12))
    assert c.median_ci != a.median_ci
    assert a.median_ci[0] <= a.median_difference <= a.median_ci[1]
    # the streams are independent: more bootstrap draws leave the permutation test unchanged
    d = cohort.cohort_test(values, is_agent, cohort.CohortConfig(n_boot=900, n_perm=500, seed=11))
    assert d.permutation == a.permutation


def test_permutation_p_of_u_approximates_the_exact_p():
    values, is_agent = sample(seed=2, shift=1.6)
    agent, human = values[is_agent == 1], values[is_agent == 0]
    exact = stats.mannwhitneyu(agent, human, method="exact").pvalue
    n_perm = 20000
    perm = cohort.permutation_test(agent, human, n_perm, np.random.default_rng(0))
    assert 0.005 < exact < 0.2  # a p-value worth checking
    assert perm["p_u"] == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / n_perm) + 1 / n_perm)
    # fully separated samples reach the smallest possible permutation p-value
    sep = cohort.permutation_test([10.0, 11.0, 12.0], [0.0, 1.0, 2.0], 200, np.random.default_rng(0))
    assert sep["p_u"] >= 1 / 201
    assert sep["p_u"] == pytest.approx(2 * 1 / 20, abs=0.05)  # exact two-sided p = 2 / C(6, 3)


def test_rescoring_permutation_test_holds_its_size_under_the_null():
    # both classes from one kernel: p-values of the re-scoring test should be uniform
    matrix = np.array(
        [[0.1, 0.5, 0.3, 0.1], [0.4, 0.1, 0.4, 0.1], [0.3, 0.3, 0.3, 0.1], [0, 0, 0, 1.0]]
    )
    pi0 = np.array([0.4, 0.3, 0.3, 0.0])
    rng = np.random.default_rng(2)
    p = []
    for _ in range(150):
        paths = sample_paths(matrix, pi0, 40, rng, max_len=20, end=3)
        paths = paths[(paths >= 0).sum(axis=1) >= 2][:24]
        counts = pair_counts(paths, 4)
        p.append(cohort.rescoring_permutation_test(counts, np.arange(24) % 2, 99, rng)["p"])
    p = np.array(p)
    # rejection rate at 0.05: binomial(150, <= 0.05) stays below 0.05 + 3 sd
    assert np.mean(p <= 0.05) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 150)
    assert 0.4 < p.mean() < 0.6


@pytest.mark.parametrize("ties", [False, True])
def test_auc_roc_and_bootstrap_against_scikit_learn(ties):
    values, is_agent = sample(seed=5)
    values = np.round(values) if ties else values
    assert cohort.auc(values, is_agent) == pytest.approx(metrics.roc_auc_score(is_agent, values), rel=1e-12)
    roc = cohort.roc_curve(values, is_agent)
    fpr, tpr, _ = metrics.roc_curve(is_agent, values, drop_intermediate=False)
    np.testing.assert_allclose(roc["fpr"], fpr)
    np.testing.assert_allclose(roc["tpr"], tpr)
    area, lo, hi = cohort.auc_bootstrap(values, is_agent, 400, np.random.default_rng(3))
    assert (area, lo, hi) == cohort.auc_bootstrap(values, is_agent, 400, np.random.default_rng(3))
    assert lo <= area <= hi and 0 <= lo and hi <= 1


def test_reliability_and_losses_by_hand():
    rel = cohort.reliability([0.1, 0.15, 0.9], [0, 1, 1], n_bins=2)
    expected = {"low": [0.0, 0.5], "high": [0.5, 1.0], "n": [2, 1], "mean_f": [0.125, 0.9], "agent_rate": [0.5, 1.0]}
    for column, values in expected.items():
        assert rel[column].tolist() == pytest.approx(values)
    losses = cohort.calibration_losses([0.5, 0.5], [0, 1])
    assert losses == pytest.approx({"brier": 0.25, "log_loss": np.log(2)})


def test_temperature_changes_calibration_not_ranking_and_is_recovered():
    rng = np.random.default_rng(0)
    gap = rng.normal(0, 4, 20000)
    true_t = 2.0
    is_agent = (rng.random(gap.size) < 1 / (1 + np.exp(-gap / true_t))).astype(int)
    scan = cohort.temperature_scan(gap, is_agent, [0.5, 2.0, 8.0])
    assert scan["auc"].nunique() == 1
    assert scan["log_loss"].idxmin() == 1  # the true T fits best of the three
    assert cohort.best_temperature(gap, is_agent) == pytest.approx(true_t, rel=0.1)
    # labels unrelated to the gaps: f = 0.5 (T -> infinity) is best, so no finite optimum
    assert cohort.best_temperature(gap, rng.permutation(is_agent)) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_boot": 0}, "n_boot"),
        ({"n_perm": 1.5}, "n_perm"),
        ({"confidence": 1.0}, "confidence"),
        ({"seed": -1}, "seed"),
    ],
)
def test_cohort_config_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=f"CohortConfig.{message}"):
        cohort.CohortConfig(**kwargs)


def test_bad_samples_raise_clear_errors():
    with pytest.raises(ValueError, match="non-finite"):
        cohort.cohort_test([1.0, np.nan, 2.0], [0, 1, 1])
    with pytest.raises(ValueError, match="need both classes"):
        cohort.auc([1.0, 2.0], [1, 1])
    with pytest.raises(ValueError, match="one length"):
        cohort.group_summary([1.0, 2.0], [1, 0, 1])
