"""Agent detection beyond KL and the defence experiment.

Session features (:mod:`~phantom_lib.detection.features`), synthetic cohorts from fitted class
models (:mod:`~phantom_lib.detection.synthetic`), detectors behind one interface with grouped
cross-validation (:mod:`~phantom_lib.detection.detectors`), the learned models behind them
(:mod:`~phantom_lib.detection.models`), their evaluation and comparison
(:mod:`~phantom_lib.detection.comparison`), and the demand-proxy defence and reconnaissance
experiments (:mod:`~phantom_lib.detection.defence`).
"""

from phantom_lib.detection.comparison import (
    compare_detectors,
    detector_suite,
    evaluate_detectors,
    multitask_comparison,
    permutation_importance,
    precision_at_recall,
)
from phantom_lib.detection.defence import (
    MODES,
    DefenceConfig,
    ReconConfig,
    at_alpha,
    defence_experiment,
    recon_experiment,
    summarise_defence,
)
from phantom_lib.detection.detectors import (
    BOUGHT,
    CONFIDENCE,
    PURCHASE_FEATURES,
    CVConfig,
    FeatureModel,
    KLDetector,
    LearnedDetector,
    RuleConfig,
    RuleDetector,
    checkout_cohort,
    grouped_splits,
    make_cohort,
)
from phantom_lib.detection.features import FEATURES, columns_without, session_features
from phantom_lib.detection.models import BoostConfig, BoostedModel, DistilConfig, NetConfig, NetModel, distil
from phantom_lib.detection.synthetic import RESAMPLED_GROUPS, fit_cohort_model, sample_cohort

__all__ = [
    "BOUGHT", "BoostConfig", "BoostedModel", "CONFIDENCE", "CVConfig", "DefenceConfig", "DistilConfig",
    "FEATURES", "FeatureModel", "KLDetector", "LearnedDetector", "MODES", "NetConfig", "NetModel",
    "PURCHASE_FEATURES", "RESAMPLED_GROUPS", "ReconConfig", "RuleConfig", "RuleDetector", "at_alpha",
    "checkout_cohort", "columns_without", "compare_detectors", "defence_experiment", "detector_suite",
    "distil", "evaluate_detectors", "fit_cohort_model", "grouped_splits", "make_cohort",
    "multitask_comparison", "permutation_importance", "precision_at_recall", "recon_experiment",
    "sample_cohort", "session_features", "summarise_defence",
]
