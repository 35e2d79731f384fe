"""Reading results: estimands of a sweep (:mod:`.estimands`) and the thesis's own runs (:mod:`.thesis_runs`)."""
