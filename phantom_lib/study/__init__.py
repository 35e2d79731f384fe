"""The factorial study: designs, learners, reference policies, evaluation, the Ray runner and analysis.

A :class:`StudyDesign` (:data:`DESIGNS`) lists the trials; :func:`train` trains and evaluates one
trial (stable-baselines3 PPO/A2C/DQN or the tabular Q-learner, or builds a reference policy);
:func:`sweep` runs a design on Ray into a resumable :class:`ResultsStore` with provenance; the
analysis functions (:func:`load_results`, :func:`paired`, :func:`deltas_by`, ...) read it back;
:mod:`~phantom_lib.study.analysis.thesis_runs` loads and re-analyses the thesis's own published runs,
:mod:`~phantom_lib.study.analysis.thesis_tables` its other generated tables;
:mod:`~phantom_lib.study.analysis.rerun` matches two runs of one design (what a re-run changed).

The jax engine (``phantom sweep --engine jax``) lives in modules this face does not import, so
using the study does not load jax or optax: :mod:`~phantom_lib.study.jax.engine` (batches of
trials trained and evaluated by compiled programs), :mod:`~phantom_lib.study.jax.learners` (PPO,
A2C, DQN and the Q-learner in JAX) and :mod:`~phantom_lib.study.run.crosscheck` (both engines on the
same cells and seeds).
"""

from phantom_lib.study.analysis import (
    equivalence,
    rerun,
    thesis_heatmap,
    thesis_runs,
    thesis_tables,
)
from phantom_lib.study.analysis.estimands import (
    COLLAPSE_SHARE,
    SweepResults,
    algorithm_summary,
    bootstrap_deltas,
    clustered_delta,
    collapsed,
    curves,
    delta_definitions,
    deltas_by,
    design_table,
    factor_tests,
    is_placebo,
    main_effects,
    paired,
    paper_table,
    per_share_summary,
    placebo_contrast,
    relative_delta,
    slope,
    win_rates,
)
from phantom_lib.study.analysis.estimands import load as load_results
from phantom_lib.study.common import METRICS, DigitisedFeatures, QLearnerConfig, learning_curve, sb3_hyperparameters
from phantom_lib.study.design.designs import SB3_ALGORITHMS, StudyDesign, TrialConfig, design
from phantom_lib.study.design.files import DESIGNS, FACTORS, StudyPlan
from phantom_lib.study.design.store import ResultsStore
from phantom_lib.study.run.options import SweepOptions
from phantom_lib.study.run.runner import run_trials, sweep
from phantom_lib.study.sb3.evaluate import make_env
from phantom_lib.study.sb3.learners import train
from phantom_lib.study.sb3.policies import ElasticityPolicy, SurgePolicy, reference_policy

__all__ = [
    "COLLAPSE_SHARE", "bootstrap_deltas", "clustered_delta", "collapsed", "equivalence", "is_placebo", "rerun",
    "per_share_summary", "placebo_contrast", "DESIGNS", "FACTORS", "METRICS", "SB3_ALGORITHMS",
    "DigitisedFeatures", "ElasticityPolicy", "QLearnerConfig", "ResultsStore", "StudyDesign", "StudyPlan",
    "SweepOptions", "SurgePolicy", "SweepResults", "TrialConfig", "algorithm_summary", "curves",
    "delta_definitions", "deltas_by", "design", "design_table", "factor_tests", "learning_curve",
    "load_results", "main_effects", "make_env", "paired", "paper_table", "reference_policy", "relative_delta",
    "run_trials", "sb3_hyperparameters", "slope", "sweep", "thesis_heatmap", "thesis_runs", "thesis_tables",
    "train", "win_rates",
]
