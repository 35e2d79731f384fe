"""The factorial study: designs, learners, reference policies, evaluation, the Ray runner and analysis.

A :class:`StudyDesign` (:data:`DESIGNS`) lists the trials; :func:`train` trains and evaluates one
trial (stable-baselines3 PPO/A2C/DQN or the tabular Q-learner, or builds a reference policy);
:func:`sweep` runs a design on Ray into a resumable :class:`ResultsStore` with provenance; the
analysis functions (:func:`load_results`, :func:`paired`, :func:`deltas_by`, ...) read it back;
:mod:`~phantom_lib.study.analysis.thesis_runs` loads and re-analyses the thesis's own published runs,
:mod:`~phantom_lib.study.analysis.thesis_tables` its other generated tables.

The jax engine (``phantom sweep --engine jax``) lives in modules this face does not import, so
using the study does not load jax or optax: :mod:`~phantom_lib.study.jax.engine` (batches of
trials trained and evaluated by compiled programs), :mod:`~phantom_lib.study.jax.learners` (PPO,
A2C, DQN and the Q-learner in JAX) and :mod:`~phantom_lib.study.run.crosscheck` (both engines on the
same cells and seeds).
"""

from phantom_lib.study.analysis import (
    equivalence,
    thesis_heatmap,
    thesis_runs,
    thesis_tables,
)
from phantom_lib.study.analysis.estimands import (
    COLLAPSE_SHARE,
    SweepResults,
    algorithm_summary,
    anchors,
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
    seed_ci,
    slope,
    varying,
    win_rates,
)
from phantom_lib.study.analysis.estimands import load as load_results
from phantom_lib.study.common import (
    EVAL_METRICS,
    METRICS,
    DigitisedFeatures,
    QLearnerConfig,
    learning_curve,
    sb3_hyperparameters,
)
from phantom_lib.study.design.designs import (
    BASELINE,
    LEARNERS,
    REFERENCE_POLICIES,
    SB3_ALGORITHMS,
    VARIANTS,
    StudyDesign,
    Trial,
    TrialConfig,
    design,
)
from phantom_lib.study.design.files import DESIGNS, FACTORS, StudyPlan, load_plan
from phantom_lib.study.design.store import ResultsStore, provenance
from phantom_lib.study.run.options import SweepOptions
from phantom_lib.study.run.runner import run_trials, sweep
from phantom_lib.study.sb3.evaluate import evaluate, make_env, run_episodes
from phantom_lib.study.sb3.learners import fit, train
from phantom_lib.study.sb3.policies import (
    ConstantPolicy,
    ElasticityPolicy,
    RandomPolicy,
    SurgePolicy,
    reference_policy,
)
from phantom_lib.study.sb3.qlearning import TabularQLearner

__all__ = [
    "COLLAPSE_SHARE",
    "bootstrap_deltas",
    "clustered_delta",
    "collapsed",
    "equivalence",
    "is_placebo",
    "per_share_summary",
    "placebo_contrast",
    "BASELINE",
    "DESIGNS",
    "EVAL_METRICS",
    "FACTORS",
    "LEARNERS",
    "METRICS",
    "REFERENCE_POLICIES",
    "SB3_ALGORITHMS",
    "VARIANTS",
    "ConstantPolicy",
    "DigitisedFeatures",
    "ElasticityPolicy",
    "QLearnerConfig",
    "RandomPolicy",
    "ResultsStore",
    "StudyDesign",
    "StudyPlan",
    "SweepOptions",
    "load_plan",
    "SurgePolicy",
    "SweepResults",
    "TabularQLearner",
    "Trial",
    "TrialConfig",
    "algorithm_summary",
    "anchors",
    "curves",
    "delta_definitions",
    "deltas_by",
    "design",
    "design_table",
    "evaluate",
    "factor_tests",
    "fit",
    "learning_curve",
    "load_results",
    "main_effects",
    "make_env",
    "paired",
    "paper_table",
    "provenance",
    "reference_policy",
    "relative_delta",
    "run_episodes",
    "run_trials",
    "sb3_hyperparameters",
    "seed_ci",
    "slope",
    "sweep",
    "thesis_heatmap",
    "thesis_runs",
    "thesis_tables",
    "train",
    "varying",
    "win_rates",
]
