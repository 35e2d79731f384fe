"""Reading results: estimands of a sweep (:mod:`.estimands`), what a re-run changed (:mod:`.rerun`) and the
thesis's own runs (:mod:`.thesis_runs`)."""
