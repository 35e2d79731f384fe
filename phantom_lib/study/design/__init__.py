"""What a study is: trial configurations and designs (:mod:`.designs`) and the results store with its provenance
(:mod:`.store`)."""
