"""Running designs: the resumable runner on Ray (:mod:`.runner`) and both engines on the same cells
(:mod:`.crosscheck`)."""
