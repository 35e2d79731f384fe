"""Which committed jax trials ran a program built for more candidates than they score (issue 26), and
which folders came from the batch-invariant engine (:func:`batch_invariant`).

Before the fix, a batch's programs were built from its first trial: a batch of eps_alpha = 0
trials led by a config naming K = 5 (a defended cell at eps 0) drew five candidate shares per
step and kept the first, for every trial of the batch (the same market in distribution, other
random numbers and up to 5x the market draws). A trial is *affected* when the program that
produced its row (the last batch that listed it, as :func:`~phantom_lib.study.design.store.engine_provenance`
counts) was built for a K other than the K its slice scores.

The fixed engine (commit 2313de3 on) builds each program from its batch's slice key and writes
``padding`` in every batch record (and the cross-check a ``program_k`` column): a record with
``padding``, or a cross-check row with ``program_k``, says which program ran, so the audit reads it
instead of inferring it from the leader.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from phantom_lib.study.design.store import ResultsStore
from phantom_lib.study.jax.engine import XLA_OPTIONS

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
        if "padding" in record:  # the fixed engine: the program is the slice's
            program_k = scored
        else:
            program_k = int(ok.loc[leader, "n_candidates"]) if "n_candidates" in ok else scored
        if program_k != scored:
            trial = ok.loc[trial_id]
            rows.append({"trial_id": trial_id, **{c: trial.get(c) for c in COLUMNS[1:7]},
                         "program_k": program_k, "scored_k": scored})
    return pd.DataFrame(rows, columns=COLUMNS)


def affected_crosscheck(folder: str | Path) -> pd.DataFrame:
    """The affected jax-trained rows of a cross-check folder (``trials.parquet``; no batch log).

    A cross-check written by the fixed engine records each jax row's ``program_k`` (the K its
    program drew): a row is affected when that differs from the K it scores (1 when eps_alpha is 0).
    Older cross-checks put every trial of a slice in one batch, so a slice's leader named the K its
    trials name: there a jax row is affected when its eps_alpha is 0 and its config names K > 1.
    ``best_fixed_jax`` rows are evaluated in the K = 1 market and trained nothing: not affected.
    """
    rows = pd.read_parquet(Path(folder) / "trials.parquet")
    jax_rows = rows[rows["engine"] == "jax"]
    scored = jax_rows["n_candidates"].where(jax_rows["eps_alpha"] > 0, 1)
    program = jax_rows["program_k"] if "program_k" in jax_rows else jax_rows["n_candidates"]
    hit = jax_rows[program != scored]
    out = hit.assign(trial_id=None, variant="defended", program_k=program[hit.index], scored_k=scored[hit.index])
    return out.reindex(columns=COLUMNS).reset_index(drop=True)


def batch_invariant(folder: str | Path) -> str:
    """Whether a folder's jax trials came from the batch-invariant engine, whose numbers do not
    depend on the batch that ran them (:data:`~phantom_lib.study.jax.engine.XLA_OPTIONS`, recorded
    per batch in ``batches.jsonl`` or per jax row of a cross-check's ``trials.parquet``).

    Returns:
        ``"yes"`` (every record names those options), ``"no"`` (none records options: XLA's
        defaults, so the trials reproduce only as their recorded batches), ``"mixed"`` or, for a
        folder with no jax records, ``"-"``.
    """
    path = Path(folder)
    if (path / "batches.jsonl").exists():
        options = [record.get("xla_options") for record in ResultsStore(path).batches()]
    elif (path / "trials.parquet").exists():
        rows = pd.read_parquet(path / "trials.parquet")
        jax_rows = rows[rows["engine"] == "jax"]
        recorded = jax_rows["xla_options"] if "xla_options" in jax_rows else [None] * len(jax_rows)
        options = [json.loads(value) if isinstance(value, str) else None for value in recorded]  # None, NaN: none
    else:
        options = []
    if not options:
        return "-"
    same = [option == XLA_OPTIONS for option in options]
    if all(same):
        return "yes"
    return "no" if all(option is None for option in options) else "mixed"


def affected_counts(results_root: str | Path) -> pd.DataFrame:
    """Per result folder under ``results_root``: trials checked, trials affected by the batch bug
    (and per algorithm) and whether the batch-invariant engine ran them (:func:`batch_invariant`)."""
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
                "batch_invariant": batch_invariant(folder),
            }
        )
    return pd.DataFrame(out)
