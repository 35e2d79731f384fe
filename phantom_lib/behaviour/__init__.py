"""Behaviour as Markov chains: kernels, chains, KL gaps, distinguishability tests, power, the market's behaviour.

Second stage of the data flow: trajectories (from :mod:`phantom_lib.data`) become per-class
transition kernels (:mod:`~phantom_lib.behaviour.kernels`, MLE at two granularities) and absorbing
chains (:mod:`~phantom_lib.behaviour.markov`); each trajectory's KL gap to the class centroids
(:mod:`~phantom_lib.behaviour.kl`, :mod:`~phantom_lib.behaviour.distinguish`) is tested between
classes (:mod:`~phantom_lib.behaviour.separation`: Mann-Whitney, bootstrap, permutations, AUC,
calibration) and for power (:mod:`~phantom_lib.behaviour.power`); :class:`Behaviour` is what the
simulator samples from (:func:`load_behaviour` estimates it from a data source).
"""

from phantom_lib.behaviour.class_divergence import (
    FLOOR_DOMINATES,
    class_kl,
    describe,
    floor_dominates,
    smoothed_class_kl,
    smoothed_state_kl,
    state_kl,
)
from phantom_lib.behaviour.distinguish import (
    SHORT,
    UNSHARED,
    ScoreConfig,
    class_divergence,
    score_table,
    transition_contributions,
)
from phantom_lib.behaviour.kernels import (
    GRANULARITIES,
    FactorisedChain,
    Kernel,
    class_demand,
    class_kernels,
    demand_condition,
    estimate_by_class,
    sample_paths,
)
from phantom_lib.behaviour.kl import EPS
from phantom_lib.behaviour.markov import absorbing_chain, class_summary, restart_matrix, stationary, visit_frequencies
from phantom_lib.behaviour.mass import class_masses, mixture_mass, predicted_revenue, session_mass
from phantom_lib.behaviour.model import (
    CLASSES,
    Behaviour,
    load_behaviour,
)
from phantom_lib.behaviour.power import PowerConfig, minimum_detectable_effect, power_by_size, power_curve
from phantom_lib.behaviour.separation import (
    CohortConfig,
    auc_bootstrap,
    best_temperature,
    calibration_losses,
    compare_scores,
    mann_whitney,
    paper_vs_book,
    reliability,
    roc_curve,
    temperature_scan,
)

__all__ = [
    "Behaviour", "CLASSES", "CohortConfig", "EPS", "FactorisedChain", "GRANULARITIES", "Kernel",
    "PowerConfig", "SHORT", "ScoreConfig", "UNSHARED", "absorbing_chain", "auc_bootstrap", "best_temperature",
    "calibration_losses", "class_demand", "class_divergence", "class_kernels", "class_kl", "class_masses",
    "class_summary", "compare_scores", "demand_condition", "describe", "estimate_by_class", "load_behaviour",
    "mann_whitney", "minimum_detectable_effect", "mixture_mass", "paper_vs_book", "power_by_size",
    "power_curve", "predicted_revenue", "reliability", "restart_matrix", "roc_curve", "sample_paths",
    "score_table", "session_mass", "smoothed_class_kl", "FLOOR_DOMINATES", "floor_dominates",
    "smoothed_state_kl", "state_kl", "stationary", "temperature_scan", "transition_contributions",
    "visit_frequencies",
]
