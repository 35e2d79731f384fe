"""A committed jax study reproduces bit for bit: its smallest recorded batch, re-run by today's code.

Each result folder written by the runner with a manifest records, per batch, the trials it ran and the
program's batch size (``batches.jsonl``). Re-running that batch from the design named in the folder's
provenance must give exactly the committed metrics (the issue's acceptance: ``phantom sweep --design
NAME`` reproduces the committed results' first trials). Folders from before manifests (the legacy list of
``test_committed_results``) are not reproduced here: their provenance was edited after the run.
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


def same(a: object, b: object) -> bool:
    """Exact equality of a committed metric and a re-run one (lists element-wise, NaN equal to NaN)."""
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    return x.shape == y.shape and bool(np.all((x == y) | (np.isnan(x) & np.isnan(y))))


@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_the_smallest_committed_batch_reproduces_bit_for_bit(folder: Path):
    from phantom_lib.study.jax.engine import run_batch

    provenance = json.loads((folder / "provenance.json").read_text())
    plan = resolve(provenance["design_name"])
    record = smallest_batch(folder)
    by_id = {t.trial_id: t for t in design(plan.design)}
    trials = [by_id[i] for i in record["trial_ids"]]
    rows, _ = run_batch(trials, record["batch_size"])
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
    assert not differ, "\n".join(differ[:10])
    assert math.isfinite(float(rows[0]["sales_revenue" if "sales_revenue" in rows[0] else "revenue"]))
