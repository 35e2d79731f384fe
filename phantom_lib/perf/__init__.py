"""Benchmarks and timing harnesses: ``phantom bench`` (the simulator's backends side by side) and the
timings of the data, kernel, scoring and feature stages. Figures are printed or returned, never
asserted in tests.
"""

from phantom_lib.perf.bench import (
    ENGINES,
    LARGE,
    BenchConfig,
    equivalence_draws,
    equivalence_pvalues,
    frame_megabytes,
    headline,
    large_rows,
    load_text,
    reference_hot_spots,
    run_bench,
    side_by_side,
)
from phantom_lib.perf.timing import estimation_benchmark, features_benchmark, scoring_benchmark

__all__ = [
    "BenchConfig", "ENGINES", "LARGE", "equivalence_draws", "equivalence_pvalues", "estimation_benchmark",
    "features_benchmark", "frame_megabytes", "headline", "large_rows", "reference_hot_spots", "run_bench",
    "load_text", "side_by_side",
    "scoring_benchmark",
]
