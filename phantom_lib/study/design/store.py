"""Where a sweep's results live: one parquet file per trial, the runs log, and the provenance record.

:class:`ResultsStore` writes each finished trial at once as its own parquet file (atomic
rename), so a crash, a killed worker or Ctrl-C loses nothing, and logs each run's start and end in
``runs.jsonl`` so the wall time of a killed run survives ``--resume``, and each jax batch's record in
``batches.jsonl`` (written before the batch's trials). :func:`provenance` records
what produced a results table: the commit, the design, the data (source, sha256, synthetic or
not), library versions, machine and time; :func:`engine_provenance` the engine, its devices and,
for the jax engine, the batch each trial ran in (batch size, seeds, compile time).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from phantom_lib.data.sources import provenance as source_provenance
from phantom_lib.study.design.designs import StudyDesign, Trial, design

REPO_ROOT = Path(__file__).resolve().parents[3]
"""The checkout the library runs from (its commit is recorded in provenance)."""


class ResultsStore:
    """One parquet file per finished trial under ``root/trials/``, written atomically, and a
    log of the runs that wrote them (``root/runs.jsonl``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.trials_dir = self.root / "trials"
        self.runs_path = self.root / "runs.jsonl"
        self.batches_path = self.root / "batches.jsonl"

    def path(self, trial_id: str) -> Path:
        return self.trials_dir / f"{trial_id}.parquet"

    def write(self, trial: Trial, metrics: Mapping[str, Any] | None, error: str | None, seconds: float) -> None:
        """Record one trial: its config, seed, metrics (or error), wall time in seconds and the
        time it finished (``finished_unix``, seconds since the epoch)."""
        row: dict[str, Any] = {"trial_id": trial.trial_id, "seed": trial.seed, **trial.config,
                               "status": "error" if error else "ok", "error": error or "", "seconds": seconds,
                               "finished_unix": time.time()}
        row.update({f"m_{k}": v for k, v in (metrics or {}).items()})
        self.trials_dir.mkdir(parents=True, exist_ok=True)
        target = self.path(trial.trial_id)
        tmp = target.with_suffix(".tmp")
        pd.DataFrame([row]).to_parquet(tmp, index=False)
        os.replace(tmp, target)

    def finished(self) -> set[str]:
        """Ids of trials with a successful result on disk."""
        return set(self.load().query("status == 'ok'")["trial_id"]) if self.trials_dir.exists() else set()

    def log_run(self, event: str, commit: str | None = None) -> None:
        """Append ``{"event": "start" | "end", "unix": now, "commit": ...}`` to ``runs.jsonl``."""
        if event not in ("start", "end"):
            raise ValueError(f"event must be 'start' or 'end'; got {event!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        with self.runs_path.open("a") as handle:
            handle.write(json.dumps({"event": event, "unix": time.time(), "commit": commit}) + "\n")

    def log_batch(self, record: Mapping[str, Any]) -> None:
        """Append one jax batch's record (:class:`phantom_lib.study.jax.engine.BatchRecord` as a dict)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.batches_path.open("a") as handle:
            handle.write(json.dumps(dict(record), default=str) + "\n")

    def batches(self) -> list[dict[str, Any]]:
        """Every logged batch record, oldest first."""
        if not self.batches_path.exists():
            return []
        return [json.loads(line) for line in self.batches_path.read_text().splitlines() if line.strip()]

    def runs(self) -> pd.DataFrame:
        """One row per logged run: ``started_unix``, ``ended_unix``, ``seconds``, ``interrupted``.

        A run without an ``end`` line (killed, crashed) ends at the last trial it finished
        (``finished_unix`` between its start and the next run's start), or at its start if it
        finished none.
        """
        columns = ["started_unix", "ended_unix", "seconds", "interrupted", "commit"]
        if not self.runs_path.exists():
            return pd.DataFrame(columns=columns)
        events = [json.loads(line) for line in self.runs_path.read_text().splitlines() if line.strip()]
        starts = [e for e in events if e["event"] == "start"]
        ends = [e["unix"] for e in events if e["event"] == "end"]
        trials = self.load()
        finished = pd.to_numeric(trials["finished_unix"], errors="coerce") if "finished_unix" in trials else pd.Series(dtype=float)
        rows = []
        for i, start in enumerate(starts):
            begin, limit = start["unix"], starts[i + 1]["unix"] if i + 1 < len(starts) else float("inf")
            logged = [t for t in ends if begin <= t < limit]
            inside = finished[(finished >= begin) & (finished < limit)]
            end = logged[0] if logged else float(inside.max()) if len(inside) else begin
            rows.append({"started_unix": begin, "ended_unix": end, "seconds": end - begin,
                         "interrupted": not logged, "commit": start.get("commit")})
        return pd.DataFrame(rows, columns=columns)

    def load(self) -> pd.DataFrame:
        """All recorded trials as one frame (metrics columns prefixed ``m_``)."""
        files = sorted(self.trials_dir.glob("*.parquet")) if self.trials_dir.exists() else []
        if not files:
            return pd.DataFrame(columns=["trial_id", "status"])
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def data_provenance(source: str) -> dict[str, Any]:
    """The data a study's market was estimated from: kind, location, sha256, rows, synthetic."""
    return source_provenance(source).as_dict()


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=40"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


SOFTWARE = ("phantom_lib", "numpy", "pandas", "gymnasium", "stable-baselines3", "torch", "jax", "optax", "ray")
"""Packages whose versions every provenance record lists."""


def software_versions() -> dict[str, str | None]:
    """The installed version of each of :data:`SOFTWARE` (``None`` when missing)."""
    versions: dict[str, str | None] = {}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine() -> dict[str, Any]:
    """Platform, Python version, CPU count and processor of this machine."""
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()}


def provenance(profile_name: str, spec: StudyDesign, trainable: str, seconds: float,
               results: pd.DataFrame, commit: str | None = None) -> dict[str, Any]:
    """What produced a results table: code (``commit``, default: the checkout's now), configuration,
    software, machine, time."""
    versions = software_versions()
    ok = int((results.get("status") == "ok").sum()) if len(results) else 0
    n_design = len(design(spec))
    timing = {}
    if "m_train_steps_per_s" in results:
        rates = pd.to_numeric(results["m_train_steps_per_s"], errors="coerce").dropna()
        timing = {"train_steps_per_s_median": float(rates.median()) if len(rates) else None,
                  "trial_seconds_median": float(results["seconds"].median())}
    return {
        "data": data_provenance(dict(spec.settings).get("data_source", "standin")),
        "git_commit": commit or git_commit(REPO_ROOT),
        "profile": profile_name,
        "design": {"factors": {k: list(v) for k, v in spec.factors.items()}, "seeds": list(spec.seeds),
                   "settings": dict(spec.settings), "baseline_twins": spec.baseline_twins,
                   "references": list(spec.references)},
        "trainable": trainable,
        "n_design": n_design,
        "n_trials": len(results),
        "n_ok": ok,
        "n_failed": len(results) - ok,
        "complete": ok == n_design,
        "timing": timing,
        "wall_seconds_this_run": round(seconds, 1),
        "trial_seconds_total": float(results["seconds"].sum()) if "seconds" in results else None,
        "versions": versions,
        "machine": machine(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def engine_provenance(engine: str, store: ResultsStore, results: pd.DataFrame) -> dict[str, Any]:
    """Which engine produced the results and where it ran.

    ``sb3``: torch on the CPU, one thread per trial. ``jax``: for every successful trial the last
    batch that listed it (so a resumed run names the batch that produced each row): batch size,
    trials and seeds, compile and wall times, backend, device kind and count, JAX version; and
    the trials that ran the SB3 trainable because the jax engine has no learner for them.
    """
    if engine == "sb3":
        return {"name": "sb3", "backend": "cpu", "device_kind": "cpu", "device_count": 1,
                "note": "stable-baselines3 on torch (cpu, one thread per trial)"}
    records = store.batches()
    last = {trial_id: i for i, record in enumerate(records) for trial_id in record["trial_ids"]}
    ok = set(results.loc[results["status"] == "ok", "trial_id"]) if len(results) else set()
    used = [records[i] for i in sorted({last[t] for t in ok if t in last})]
    return {
        "name": "jax",
        "batch_sizes": sorted({r["batch_size"] for r in used}),
        "devices": sorted({f"{r['backend']}:{r['device_kind']} x{r['device_count']}" for r in used}),
        "jax_versions": sorted({r["jax_version"] for r in used}),
        "compile_seconds_total": round(sum(r["compile_seconds"] for r in used), 1),
        "n_batches": len(used),
        "batches": used,
        "sb3_trainable": {"n_trials": len(ok - set(last)),
                          "algorithms": sorted(results.loc[results["trial_id"].isin(ok - set(last)), "algorithm"].unique())},
    }
