"""Detectors: the rule's definition, grouped CV without leakage, distillation held out, evaluation by hand."""

import numpy as np
import pandas as pd
import pytest
from test_features import HEADLESS, SAFARI, make_table

from phantom_lib import detection as detectors
from phantom_lib.behaviour import distinguish
from phantom_lib.detection import detectors as detectors_module
from phantom_lib.detection import features
from phantom_lib.detection import models as models_module

START = "2026-01-05 10:00:00"


def session(sid, actor, n, duration, purchases=0, experiment=None):
    """n events evenly over ``duration`` seconds; the last ``purchases`` are checkouts."""
    times = np.linspace(0.0, duration, n) if n > 1 else np.zeros(1)
    names = ["view_item_page" if i % 2 else "page_view" for i in range(n - purchases)] + ["checkout_start"] * purchases
    ua = HEADLESS if actor == "agent" else SAFARI
    return [
        (sid, experiment or f"e-{sid}", actor, t, START, name, "/shop/products/p1", "p1", ua)
        for t, name in zip(times, names)
    ]


def rule_cohort():
    cases = {
        "exactly_at_thresholds": ("agent", 12, 60.0, 0),  # 12 events, 12/60 s = 0.2 /s, conversion 0
        "one_event_short": ("agent", 11, 55.0, 0),  # 11 < 12
        "too_slow": ("agent", 12, 61.0, 0),  # 12/61 < 0.2 /s
        "buys": ("agent", 12, 60.0, 1),  # conversion 1/12 > 0.01
        "buys_rarely": ("agent", 100, 100.0, 1),  # conversion 1/100 = 0.01, 1 /s
        "slow_human": ("human", 30, 900.0, 1),
    }
    rows = [row for sid, (actor, n, d, k) in cases.items() for row in session(sid, actor, n, d, k)]
    return detectors.make_cohort(make_table(rows, "session"), None, "session"), cases


def test_rule_detector_reproduces_its_definition():
    cohort, _ = rule_cohort()
    score = detectors.RuleDetector().score(cohort)
    expected = {
        "exactly_at_thresholds": 1.0,
        "one_event_short": 0.0,
        "too_slow": 0.0,
        "buys": 0.0,
        "buys_rarely": 1.0,
        "slow_human": 0.0,
    }
    assert score.to_dict() == expected
    loose = detectors.RuleDetector(detectors.RuleConfig(min_interactions=11, max_conversion=0.1))
    assert loose.score(cohort)[["one_event_short", "buys"]].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="min_velocity"):
        detectors.RuleConfig(min_velocity=0)


def leaky_cohort():
    """40 sessions (the unit); two sessions per experiment, and every fourth session also runs
    the next experiment, so experiments and sessions chain into leakage groups."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        actor = "agent" if i % 2 else "human"
        mine = session(
            f"s{i:02d}", actor, int(rng.integers(3, 20)), float(rng.uniform(10, 900)), experiment=f"x{i // 2:02d}"
        )
        if i % 4 == 3:
            mine[-1] = mine[-1][:1] + (f"x{i // 2 + 1:02d}",) + mine[-1][2:]
        rows += mine
    return detectors.make_cohort(make_table(rows, "session"), None, "session")


def test_grouped_cv_never_puts_an_experiment_on_both_sides():
    cohort = leaky_cohort()
    experiments = cohort.table.groupby("session")["experiment"].agg(set).reindex(cohort.ids)
    splits = detectors.grouped_splits(cohort.y, cohort.groups, detectors.CVConfig(n_splits=3, seed=1))
    tested = np.concatenate([test for _, test in splits])
    assert sorted(tested.tolist()) == list(range(len(cohort.ids)))  # the test folds partition the units
    for train, test in splits:
        seen = set().union(*experiments.iloc[train])
        held = set().union(*experiments.iloc[test])
        assert not seen & held


class Recorder:
    """A FeatureModel that remembers which units it was trained on and predicts its training agent share."""

    trained: list = []

    def fit(self, frame):
        Recorder.trained.append(set(frame.index))
        self.share = frame["is_agent"].mean()
        return self

    def predict(self, frame):
        return np.full(len(frame), self.share)


def test_learned_detectors_score_every_unit_out_of_fold():
    cohort = leaky_cohort()
    Recorder.trained = []
    result = detectors.LearnedDetector("recorder", Recorder, detectors.CVConfig(n_splits=4)).cross_validate(cohort)
    assert result.scores.notna().all() and list(result.scores.index) == list(cohort.ids)
    for trained, (_, test) in zip(Recorder.trained, result.splits):
        held = set(cohort.ids[test])
        assert not trained & held
        groups_seen = set(cohort.features.loc[list(trained), "group"])
        assert not groups_seen & set(cohort.groups[test])


def test_grouped_cv_refuses_more_folds_than_groups():
    with pytest.raises(ValueError, match="exceeds the 2 leakage groups"):
        detectors.grouped_splits([0, 1, 0, 1], [0, 0, 1, 1], detectors.CVConfig(n_splits=3))


def test_kl_detector_is_the_distinguishability_f():
    cohort = leaky_cohort()
    f = detectors.KLDetector().score(cohort)
    direct = distinguish.score_table(cohort.table).frame.set_index("trajectory")["f"]
    pd.testing.assert_series_equal(f.loc[direct.index], direct.rename("kl"), check_names=False)
    assert f.drop(direct.index).eq(detectors_module.F_UNSCORED).all()


def random_cohort(n=120, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        actor = "agent" if i % 2 else "human"
        rows += session(
            f"u{i:03d}", actor, int(rng.integers(2, 30)), float(rng.uniform(5, 600)), purchases=int(rng.random() < 0.3)
        )
    return detectors.make_cohort(make_table(rows, "session"), None, "session")


def test_distilled_tree_agreement_is_measured_on_held_out_units():
    cohort = random_cohort()
    cv = detectors.CVConfig(n_splits=5)
    # a teacher that is a threshold on one feature: a depth-1 tree recovers it on unseen units
    simple = pd.Series((cohort.features["n_events"] >= 15).astype(float), index=cohort.ids, name="simple")
    easy = detectors.distil(cohort, simple, detectors.DistilConfig(max_depth=1, min_samples_leaf=1), cv)
    assert 0.9 <= easy.agreement <= 1.0
    assert "n_events" in easy.rules
    # a teacher of coin flips: a deep tree memorises it in sample but cannot agree with it on unseen units
    noise = pd.Series(np.random.default_rng(1).random(len(cohort.ids)), index=cohort.ids, name="noise")
    deep = detectors.DistilConfig(max_depth=12, min_samples_leaf=1)
    hard = detectors.distil(cohort, noise, deep, cv)
    assert 0.0 <= hard.agreement < 0.75
    x, _ = features.design_matrix(cohort.features, deep.columns)
    in_sample = models_module._tree(deep).fit(x, hard.teacher_agent.to_numpy()).score(x, hard.teacher_agent.to_numpy())
    assert in_sample > 0.95


def test_precision_at_recall_by_hand():
    # agents 0.9, 0.8, 0.3; humans 0.7, 0.2. Recall >= 0.8 needs all three agents: threshold 0.3
    # flags 0.9, 0.8, 0.7, 0.3 -> precision 3/4.
    scores = [0.9, 0.8, 0.3, 0.7, 0.2]
    y = [1, 1, 1, 0, 0]
    assert detectors.precision_at_recall(scores, y, 0.8) == pytest.approx(0.75)
    assert detectors.precision_at_recall(scores, y, 0.6) == pytest.approx(1.0)  # threshold 0.8: 2 agents, no human


def test_evaluate_reuses_the_cohort_statistics():
    cohort = random_cohort(60)
    y = cohort.features["is_agent"]
    perfect = y.astype(float).rename("perfect")
    table = detectors.evaluate_detectors({"perfect": perfect, "constant": perfect * 0 + 0.5}, y, n_boot=200)
    assert table.loc["perfect", ["auc", "auc_low", "auc_high"]].tolist() == [1.0, 1.0, 1.0]
    assert table.loc["constant", "auc"] == 0.5 and table.loc["constant", "brier"] == pytest.approx(0.25)
    assert table.loc["constant", "precision_at_80%_recall"] == pytest.approx(y.mean())


def test_networks_are_seeded_and_leave_torch_global_state_alone():
    torch = pytest.importorskip("torch")
    cohort = random_cohort(40)
    frame = cohort.features
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    config = detectors.NetConfig(epochs=30)
    first = detectors.NetModel(config).fit(frame).predict(frame)
    again = detectors.NetModel(config).fit(frame).predict(frame)
    assert torch.rand(1) == before  # the fits did not draw from the global generator
    np.testing.assert_array_equal(first, again)
    multi = detectors.NetModel(config).fit(frame)
    assert multi.predict_purchase(frame).shape == (len(frame),)
    with pytest.raises(ValueError, match="no purchase head"):
        detectors.NetModel(detectors.NetConfig(epochs=5, multitask=False)).fit(frame).predict_purchase(frame)
    with pytest.raises(ValueError, match="no purchase feature"):
        detectors.NetConfig(columns=("n_events", "purchases"))


def test_boosted_model_learns_a_separable_signal():
    cohort = random_cohort(80)
    scores = detectors.LearnedDetector(
        "boosted", lambda: detectors.BoostedModel(detectors.BoostConfig(max_iter=20))
    ).score(cohort)
    y = cohort.y
    # agents get HeadlessChrome, humans Safari (see ``session``): the held-out units are told apart
    assert scores[y == 1].min() > scores[y == 0].max()
    assert ((scores >= 0) & (scores <= 1)).all()


def test_make_cohort_needs_trajectories_of_the_unit():
    table = make_table(
        session("a", "agent", 3, 10.0, experiment="x") + session("b", "human", 3, 10.0, experiment="x"), "session"
    )
    with pytest.raises(ValueError, match="unit='experiment'"):
        detectors.make_cohort(table, None, "experiment")


def test_checkout_cohort_sees_only_what_came_before_the_checkout():
    rows = session("buyer", "human", 6, 50.0, purchases=1) + session("browser", "agent", 5, 10.0)
    table = make_table(rows, "session")
    checkout_ts = table.loc[table["event"] == "checkout_start", "ts"].iloc[0]
    prices = pd.DataFrame(
        {
            "session": ["buyer", "buyer", "browser"],
            "ts": [checkout_ts - pd.Timedelta(seconds=1), checkout_ts + pd.Timedelta(seconds=1), checkout_ts],
            "price": [10.0, 99.0, 20.0],
        }
    )
    got = detectors.checkout_cohort(table, prices, "session").features
    assert got.loc["buyer", detectors.BOUGHT] == 1 and got.loc["browser", detectors.BOUGHT] == 0
    assert got.loc["buyer", "n_events"] == 5 and got.loc["buyer", "purchases"] == 0
    assert got.loc["buyer", "price_max"] == 10.0  # the quote after the checkout is not seen
    assert got.loc["browser", "n_events"] == 5 and got.loc["browser", "price_max"] == 20.0


def test_multitask_comparison_reports_both_twins():
    pytest.importorskip("torch")
    cohort = random_cohort(60)
    table = detectors.multitask_comparison(
        cohort, detectors.NetConfig(epochs=20), detectors.CVConfig(n_splits=3), n_boot=50
    )
    assert list(table.index) == ["single-task", "multi-task"]
    assert np.isnan(table.loc["single-task", "purchase AUC"])
    assert 0 <= table.loc["multi-task", "purchase AUC"] <= 1
    assert table["agent low"].le(table["agent AUC"]).all() and table["agent AUC"].le(table["agent high"]).all()


class Fixed(detectors_module.Detector):
    """A detector whose scores are given (to pin which one is the best)."""

    def __init__(self, name, values):
        self.name, self.values = name, values

    def score(self, cohort):
        return pd.Series(self.values, index=cohort.ids, name=self.name)


def test_the_tree_is_distilled_from_the_detector_with_the_highest_auc_first_on_ties():
    cohort = random_cohort(60)
    agent = cohort.features["is_agent"].to_numpy().astype(float)
    noisy = np.where(np.arange(len(agent)) % 5 == 0, 1 - agent, agent)  # 1 in 5 flipped: AUC below 1
    cv, config = detectors.CVConfig(n_splits=3), detectors.DistilConfig(max_depth=1, min_samples_leaf=1)
    suite = {"noisy": Fixed("noisy", noisy), "exact": Fixed("exact", agent), "inverse": Fixed("inverse", 1 - agent)}
    best = detectors.compare_detectors(cohort, suite, n_boot=10, teacher="best", distil_config=config, cv=cv)
    assert best.tree.teacher == "exact" == best.evaluation.drop(index="tree")["auc"].idxmax()
    np.testing.assert_array_equal(best.tree.teacher_agent.to_numpy(), agent)
    tied = {"exact": Fixed("exact", agent), "copy": Fixed("copy", agent)}
    assert detectors.compare_detectors(cohort, tied, n_boot=10, distil_config=config, cv=cv).tree.teacher == "exact"
    named = detectors.compare_detectors(cohort, suite, n_boot=10, teacher="noisy", distil_config=config, cv=cv)
    assert named.tree.teacher == "noisy"
    with pytest.raises(KeyError, match="teacher 'boosted' is not in the suite"):
        detectors.compare_detectors(cohort, suite, n_boot=10, teacher="boosted", distil_config=config, cv=cv)
