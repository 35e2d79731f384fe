"""Which committed jax trials ran a program built for more candidates than they score (issue 26).

Before the fix, a batch's programs were built from its first trial: a batch of eps_alpha = 0
trials led by a config naming K = 5 (a defended cell at eps 0) drew five candidate shares per
step and kept the first, for every trial of the batch (the same market in distribution, other
random numbers and up to 5x the market draws). A trial is *affected* when the program that
produced its row (the last batch that listed it, as :func:`~phantom_lib.study.design.store.engine_provenance`
counts) was built for a K other than the K its slice scores.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from phantom_lib.study.design.store import ResultsStore

COLUMNS = ["trial_id", "algorithm", "variant", "alpha0", "eps_alpha", "lambda_coi", "seed", "program_k", "scored_k"]
"""Columns of :func:`affected_trials`: the trial, the K its program drew (the leader's config K)
and the K its slice scores (1 when eps_alpha = 0)."""


def affected_trials(folder: str | Path) -> pd.DataFrame:
    """The affected successful trials of a sweep folder (``batches.jsonl`` and ``results.parquet``)."""
    store = ResultsStore(Path(folder))
    results = pd.read_parquet(Path(folder) / "results.parquet")
    ok = results[results["status"] == "ok"].set_index("trial_id")
    records = store.batches()
    last = {trial_id: i for i, record in enumerate(records) for trial_id in record["trial_ids"]}
    rows = []
    for trial_id, i in last.items():
        record = records[i]
        leader, scored = record["trial_ids"][0], record["slice"]["n_candidates"]
        if trial_id not in ok.index or leader not in ok.index:
            continue
        program_k = int(ok.loc[leader, "n_candidates"]) if "n_candidates" in ok else scored
        if program_k != scored:
            trial = ok.loc[trial_id]
            rows.append({"trial_id": trial_id, **{c: trial.get(c) for c in COLUMNS[1:7]},
                         "program_k": program_k, "scored_k": scored})
    return pd.DataFrame(rows, columns=COLUMNS)


def affected_crosscheck(folder: str | Path) -> pd.DataFrame:
    """The affected jax-trained rows of a cross-check folder (``trials.parquet``; no batch log).

    The cross-check put every trial of a slice in one batch, so a slice's leader named the K its
    trials name: a jax row is affected when its eps_alpha is 0 and its config names K > 1. Its
    ``best_fixed_jax`` rows are evaluated in the K = 1 market and trained nothing: not affected.
    """
    rows = pd.read_parquet(Path(folder) / "trials.parquet")
    hit = rows[(rows["engine"] == "jax") & (rows["eps_alpha"] == 0) & (rows["n_candidates"] > 1)]
    out = hit.assign(trial_id=None, variant="defended", program_k=hit["n_candidates"], scored_k=1)
    return out.reindex(columns=COLUMNS).reset_index(drop=True)


def affected_counts(results_root: str | Path) -> pd.DataFrame:
    """Per result folder under ``results_root``: trials checked and trials affected."""
    out = []
    for folder in sorted(p for p in Path(results_root).iterdir() if p.is_dir()):
        if (folder / "batches.jsonl").exists() and (folder / "results.parquet").exists():
            hit, total = (
                affected_trials(folder),
                int((pd.read_parquet(folder / "results.parquet")["status"] == "ok").sum()),
            )
        elif (folder / "trials.parquet").exists():
            rows = pd.read_parquet(folder / "trials.parquet")
            hit, total = affected_crosscheck(folder), int((rows["engine"] == "jax").sum())
        else:
            continue
        out.append(
            {
                "folder": folder.name,
                "trials": total,
                "affected": len(hit),
                "affected_by_algorithm": hit["algorithm"].value_counts().sort_index().to_dict(),
            }
        )
    return pd.DataFrame(out)
