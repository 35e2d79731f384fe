"""Evaluation and comparison of detectors: AUC with bootstrap intervals, precision at a recall,
calibration, permutation importance, and the suite the detection chapter compares.

AUCs and calibration reuse :mod:`phantom_lib.behaviour.separation`.
"""


from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib._arrays import FloatArray
from phantom_lib._validation import check, integer
from phantom_lib.behaviour import separation as cohort_stats

# --------------------------------------------------------------------------------------------
# Evaluation
from phantom_lib.detection.detectors import (
    BOUGHT,
    CONFIDENCE,
    PURCHASE_FEATURES,
    Cohort,
    CrossValidated,
    CVConfig,
    Detector,
    FeatureModel,
    KLDetector,
    LearnedDetector,
    RuleDetector,
    cross_validate,
)
from phantom_lib.detection.features import (
    FEATURES,
)
from phantom_lib.detection.models import (
    BoostConfig,
    BoostedModel,
    DistilConfig,
    Distilled,
    NetConfig,
    NetModel,
    distil,
)


def precision_at_recall(scores: npt.ArrayLike, is_agent: npt.ArrayLike, recall: float = 0.8) -> float:
    """Best precision among the thresholds that flag at least ``recall`` of the agents.

    From the ROC points of :func:`phantom_lib.behaviour.separation.roc_curve` (flag when score >= threshold):
    precision = TP / (TP + FP) = tpr n_A / (tpr n_A + fpr n_H).
    """
    if not 0 < recall <= 1:
        raise ValueError(f"recall must lie in (0, 1]; got {recall!r}")
    y = np.asarray(is_agent).astype(bool)
    roc = cohort_stats.roc_curve(scores, y)
    reach = roc[roc["tpr"] >= recall - 1e-12]
    tp = reach["tpr"].to_numpy() * y.sum()
    fp = reach["fpr"].to_numpy() * (~y).sum()
    return float(np.max(tp / (tp + fp)))


def evaluate_detectors(
    scores: Mapping[str, pd.Series],
    is_agent: pd.Series,
    n_boot: int = 2000,
    seed: int = 0,
    recall: float = 0.8,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per detector: AUC with its percentile bootstrap CI (:func:`cohort.auc_bootstrap`;
    every detector gets the same resamples, from one seed), precision at ``recall``, Brier score
    and log loss (:func:`cohort.calibration_losses`), and the share of units flagged at 0.5.

    Args:
        scores: detector name -> P(agent) per unit (index = unit ids).
        is_agent: 0/1 class per unit (index = unit ids).
    """
    rows = {}
    for name, score in scores.items():
        s = score.reindex(is_agent.index)
        if s.isna().any():
            raise ValueError(f"detector {name!r} has no score for {int(s.isna().sum())} units")
        p, y = s.to_numpy(dtype=float), is_agent.to_numpy()
        rng = cohort_stats.CohortConfig(seed=seed).generator("auc")
        area, low, high = cohort_stats.auc_bootstrap(p, y, n_boot, rng, confidence)
        rows[name] = {
            "auc": area,
            "auc_low": low,
            "auc_high": high,
            f"precision_at_{recall:.0%}_recall": precision_at_recall(p, y, recall),
            **cohort_stats.calibration_losses(p, y),
            "flagged_share": float(np.mean(p >= 0.5)),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("detector")


def permutation_importance(
    cohort: Cohort, result: CrossValidated, columns: Sequence[str], n_repeats: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Drop in out-of-fold AUC when one feature is shuffled among the held-out units of each fold.

    The fold models of ``result`` are reused (no refit); ``browser`` is shuffled as one column.

    Returns:
        one row per feature: ``importance`` (mean AUC drop over ``n_repeats`` shuffles) and
        ``std``, sorted by importance, largest first.
    """
    check("permutation_importance", integer("permutation_importance", "n_repeats", n_repeats, low=1))
    rng = np.random.default_rng(seed)
    frame = cohort.features
    base = cohort_stats.auc(result.scores.to_numpy(), cohort.y)
    rows = []
    for column in columns:
        drops = []
        for _ in range(n_repeats):
            def shuffled(model: FeatureModel, part: pd.DataFrame) -> FloatArray:
                values = part[column].to_numpy(copy=True)
                return model.predict(part.assign(**{column: values[rng.permutation(values.size)]}))

            drops.append(base - cohort_stats.auc(result.predict_out_of_fold(frame, shuffled), cohort.y))
        rows.append({"feature": column, "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    return pd.DataFrame(rows).sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# The suite the detection chapter compares

RULE_FEATURES = ("n_events", "events_per_minute", "conversion")
"""Features the original rule reads."""


def detector_suite(
    columns: Sequence[str] = FEATURES,
    cv: CVConfig | None = None,
    boost: BoostConfig | None = None,
    net: NetConfig | None = None,
) -> dict[str, Detector]:
    """The detectors (a)-(d) over one feature set.

    The learners read ``columns`` (the networks without :data:`PURCHASE_FEATURES`); the rule is
    included only when ``columns`` hold :data:`RULE_FEATURES`; the KL detector reads the event
    sequences. Keys: ``rule``, ``kl``, ``boosted``, ``net_multitask``, ``net_single``.
    """
    columns = tuple(columns)
    boost = dataclasses.replace(boost or BoostConfig(), columns=columns)
    net = dataclasses.replace(net or NetConfig(), columns=tuple(c for c in columns if c not in PURCHASE_FEATURES))
    suite: dict[str, Detector] = {}
    if all(c in columns for c in RULE_FEATURES):
        suite["rule"] = RuleDetector()
    suite["kl"] = KLDetector()
    suite["boosted"] = LearnedDetector("boosted", functools.partial(BoostedModel, boost), cv)
    for name, multitask in (("net_multitask", True), ("net_single", False)):
        model = functools.partial(NetModel, dataclasses.replace(net, multitask=multitask))
        suite[name] = LearnedDetector(name, model, cv)
    return suite


@dataclass(frozen=True)
class Comparison:
    """Every detector of a suite on one cohort, plus the tree distilled from the teacher.

    Attributes:
        scores: detector name -> out-of-sample P(agent) per unit (``tree`` included).
        evaluation: :func:`evaluate` of every score, one row per detector.
        fitted: the cross-validation results of the learned detectors (fold models, splits).
        tree: :func:`distil` of the teacher.
    """

    scores: dict[str, pd.Series]
    evaluation: pd.DataFrame
    fitted: dict[str, CrossValidated]
    tree: Distilled


def compare_detectors(
    cohort: Cohort,
    suite: Mapping[str, Detector],
    n_boot: int = 2000,
    seed: int = 0,
    teacher: str = "best",
    distil_config: DistilConfig | None = None,
    cv: CVConfig | None = None,
) -> Comparison:
    """Score ``cohort`` with every detector of ``suite``, evaluate, and distil the teacher
    (``"best"``: the highest AUC) into a tree over ``distil_config.columns``."""
    scores: dict[str, pd.Series] = {}
    fitted: dict[str, CrossValidated] = {}
    for name, detector in suite.items():
        if isinstance(detector, LearnedDetector):
            fitted[name] = detector.cross_validate(cohort)
            scores[name] = fitted[name].scores
        else:
            scores[name] = detector.score(cohort)
    labels = cohort.features["is_agent"]
    evaluation = evaluate_detectors(scores, labels, n_boot, seed)
    chosen = str(evaluation["auc"].idxmax()) if teacher == "best" else teacher
    if chosen not in scores:
        raise KeyError(f"teacher {chosen!r} is not in the suite; choose 'best' or one of {list(scores)}")
    tree = distil(cohort, scores[chosen], distil_config, cv)
    scores["tree"] = tree.scores.rename("tree")
    evaluation = pd.concat([evaluation, evaluate_detectors({"tree": scores["tree"]}, labels, n_boot, seed)])
    return Comparison(scores, evaluation, fitted, tree)


def multitask_comparison(
    cohort: Cohort, net: NetConfig | None = None, cv: CVConfig | None = None, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """The multi-task network against its single-task twin on one cohort (same inputs, folds, seed).

    Returns one row per network: out-of-fold agent AUC with its bootstrap CI, and for the
    multi-task network the purchase head's AUC for :data:`BOUGHT` with its CI (NaN when the
    cohort has one purchase outcome only).
    """
    net = net or NetConfig()
    rows = {}
    for name, multitask in (("single-task", False), ("multi-task", True)):
        result = cross_validate(
            cohort, functools.partial(NetModel, dataclasses.replace(net, multitask=multitask)), cv, name
        )
        agent = evaluate_detectors({name: result.scores}, cohort.features["is_agent"], n_boot, seed).loc[name]
        row = {"agent AUC": agent["auc"], "agent low": agent["auc_low"], "agent high": agent["auc_high"]}
        bought = cohort.features[BOUGHT].to_numpy(dtype=int)
        row.update({"purchase AUC": np.nan, "purchase low": np.nan, "purchase high": np.nan})
        if multitask and 0 < bought.sum() < bought.size:
            purchase = result.predict_out_of_fold(cohort.features, lambda model, part: model.predict_purchase(part))
            rng = cohort_stats.CohortConfig(seed=seed).generator("auc")
            area, low, high = cohort_stats.auc_bootstrap(purchase, bought, n_boot, rng, CONFIDENCE)
            row.update({"purchase AUC": area, "purchase low": low, "purchase high": high})
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("network")
