"""Benchmarks and timing harnesses: ``phantom bench`` (the simulator's backends side by side) and the
timings of the data, kernel, scoring and feature stages. Figures are printed or returned, never
asserted in tests.
"""

from phantom_lib.perf.bench import (
    BATCHED_CONFIGS,
    BenchConfig,
    ENGINES,
    LARGE,
    LOOKUP_FUNCTIONS,
    LOOKUP_PART,
    ReferenceProfile,
    SCALING_BASE,
    batched,
    batched_rollout,
    equivalence_draws,
    equivalence_pvalues,
    format_report,
    frame_megabytes,
    headline,
    large_rows,
    profile_reference,
    run_bench,
    scaling,
    step_memory_mb,
    targets,
    time_envs,
)
from phantom_lib.perf.timing import (
    estimation_benchmark,
    features_benchmark,
    load_benchmark,
    scoring_benchmark,
)

__all__ = [
    "BATCHED_CONFIGS",
    "BenchConfig",
    "ENGINES",
    "LARGE",
    "LOOKUP_FUNCTIONS",
    "LOOKUP_PART",
    "ReferenceProfile",
    "SCALING_BASE",
    "batched",
    "batched_rollout",
    "equivalence_draws",
    "equivalence_pvalues",
    "estimation_benchmark",
    "features_benchmark",
    "format_report",
    "frame_megabytes",
    "headline",
    "large_rows",
    "load_benchmark",
    "profile_reference",
    "run_bench",
    "scaling",
    "scoring_benchmark",
    "step_memory_mb",
    "targets",
    "time_envs",
]
