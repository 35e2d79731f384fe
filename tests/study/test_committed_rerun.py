"""A committed jax study reproduces bit for bit: its smallest recorded batch, re-run by today's code,
and the first trial of that batch run alone (a trial's numbers must not depend on its batch).

Each result folder written by the runner with a manifest records, per batch, the trials it ran, the
program's batch size, its XLA compile options and its pools' memory cap (``batches.jsonl``). Re-running
that batch from the design named in the folder's provenance, with those, must give exactly the committed metrics
(the issue's acceptance: ``phantom sweep --design NAME`` reproduces the committed results' first
trials). A folder run by the batch-invariant engine (its batches record ``xla_options``) must also
give them for a trial run alone; one run before it (XLA's defaults, where a trial's numbers depend on
its batch size) reproduces only as its recorded batch, so for it the whole batch is re-run (a
superseded folder stands in once no committed folder is that old). Superseded folders from before
manifests are not reproduced here: their provenance was edited after the run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from phantom_lib.study.design.designs import design
from phantom_lib.study.design.files import resolve

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = sorted(p.parent for p in (ROOT / "data/results").glob("*/manifest.json")
                 if (p.parent / "batches.jsonl").exists())


def smallest_batch(folder: Path) -> dict:
    """The recorded batch with the fewest trials (the cheapest to re-run); the first such in the file."""
    records = [json.loads(line) for line in (folder / "batches.jsonl").read_text().splitlines() if line.strip()]
    return min(records, key=lambda r: (len(r["trial_ids"]), r["batch_size"]))


def invariant(folder: Path) -> bool:
    """Whether the folder was run by the batch-invariant engine (its batches record ``xla_options``)."""
    return "xla_options" in smallest_batch(folder)


def same(a: object, b: object) -> bool:
    """Exact equality of a committed metric and a re-run one (lists element-wise, NaN equal to NaN)."""
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    return x.shape == y.shape and bool(np.all((x == y) | (np.isnan(x) & np.isnan(y))))


def differences(folder: Path, alone: bool) -> tuple[list[str], list[dict]]:
    """Re-run the smallest recorded batch of ``folder`` with its recorded XLA options (``alone``: its
    first trial alone) and list every metric that differs from the committed one; also return the
    re-run rows."""
    from phantom_lib.study.jax.engine import LEGACY_POOL_MB, LEGACY_XLA_OPTIONS, run_batch

    provenance = json.loads((folder / "provenance.json").read_text())
    plan = resolve(provenance["design_name"])
    record = smallest_batch(folder)
    by_id = {t.trial_id: t for t in design(plan.design)}
    trials = [by_id[i] for i in record["trial_ids"]][: 1 if alone else None]
    options = record.get("xla_options", LEGACY_XLA_OPTIONS)
    rows, _ = run_batch(trials, None if alone else record["batch_size"], xla_options=options,
                        pool_mb=record.get("pool_mb", LEGACY_POOL_MB))
    committed = pd.read_parquet(folder / "results.parquet").set_index("trial_id")
    differ = []
    for trial, row in zip(trials, rows):
        for name, value in row.items():
            column = f"m_{name}"
            if column not in committed.columns or name.endswith("seconds") or name == "train_steps_per_s":
                continue  # timings are not results
            kept = committed.at[trial.trial_id, column]
            if not same(kept, value):
                differ.append(f"{trial.trial_id}: {column} committed {kept!r}, re-run {value!r}")
    return differ, rows


INVARIANT = [f for f in FOLDERS if invariant(f)]
SUPERSEDED = sorted(p.parent for p in (ROOT / "data/superseded").glob("*/manifest.json")
                    if (p.parent / "batches.jsonl").exists() and not invariant(p.parent))
LEGACY = [f for f in FOLDERS if not invariant(f)] or sorted(
    SUPERSEDED, key=lambda f: smallest_batch(f).get("train_seconds", math.inf))[:1]
"""Folders run before the invariant engine: the committed ones, or else the superseded one whose smallest
batch trained fastest (the old engine's path, :data:`LEGACY_XLA_OPTIONS`, must still reproduce it)."""


@pytest.mark.slow
@pytest.mark.parametrize("folder", LEGACY, ids=[f.name for f in LEGACY])
def test_the_smallest_batch_of_a_folder_run_before_the_invariant_engine_reproduces(folder: Path):
    """Run with XLA's defaults, a trial reproduces only in its recorded batch: that batch must."""
    differ, rows = differences(folder, alone=False)
    assert not differ, "\n".join(differ[:10])
    assert math.isfinite(float(rows[0]["sales_revenue" if "sales_revenue" in rows[0] else "revenue"]))


@pytest.mark.slow
@pytest.mark.parametrize("folder", INVARIANT, ids=[f.name for f in INVARIANT])
def test_a_committed_trial_run_alone_reproduces_bit_for_bit(folder: Path):
    """The first trial of the smallest recorded batch, alone, gives its committed numbers: the study
    reproduces and the trial's numbers do not depend on the batch that ran it."""
    differ, rows = differences(folder, alone=True)
    assert not differ, "\n".join(differ[:10])
    assert math.isfinite(float(rows[0]["revenue"]))
