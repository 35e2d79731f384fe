"""Where a sweep's results live: one parquet file per trial, the runs log, and the provenance record.

:class:`ResultsStore` writes each finished trial at once as its own parquet file (atomic
rename), so a crash, a killed worker or Ctrl-C loses nothing, and logs each run's start and end in
``runs.jsonl`` so the wall time of a killed run survives ``--resume``, and each jax batch's record in
``batches.jsonl`` (written before the batch's trials). :meth:`ResultsStore.lock` holds an exclusive
lock on the folder while a run writes it (a second run there fails with one line naming the holder).
A trial file that cannot be read (truncated by a crash or a full disk) is moved to ``corrupt/`` with
a one-line message, so ``--resume`` runs its trial again. :func:`provenance` records what produced a
results table: the code (the bare commit, whether the tree was dirty, the sha256 of ``git diff HEAD``
and the dirty paths: :func:`phantom_lib.study.design.vcs.tree_state`), the design, the data (source,
sha256, synthetic or not), library versions, machine and time; :func:`engine_provenance` the engine,
its devices and, for the jax engine, the batch each trial ran in (batch size, seeds, compile time).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from phantom_lib.data.sources import provenance as source_provenance
from phantom_lib.study.design import vcs
from phantom_lib.study.design.designs import StudyDesign, Trial, design

REPO_ROOT = Path(__file__).resolve().parents[3]
"""The checkout the library runs from (its commit is recorded in provenance)."""


LOCK_NAME = ".lock"
"""The lock file of a results folder (holds the pid of the run writing it)."""


class FolderInUseError(RuntimeError):
    """Another run holds the results folder's lock (one line: the folder, the holder's pid, the fix)."""


class ResultsStore:
    """One parquet file per finished trial under ``root/trials/``, written atomically, and a
    log of the runs that wrote them (``root/runs.jsonl``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.trials_dir = self.root / "trials"
        self.corrupt_dir = self.root / "corrupt"
        self.runs_path = self.root / "runs.jsonl"
        self.batches_path = self.root / "batches.jsonl"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the folder (``fcntl.flock`` on ``root/.lock``, which names
        this process's pid) while the block runs; raise :class:`FolderInUseError` at once if another
        process holds it. The lock goes with the process, so a killed run leaves none behind."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_NAME).open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise FolderInUseError(f"{self.root} is in use by another run (pid {holder}): wait for it to "
                                       "finish, or choose another --out") from None
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            try:
                yield
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

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

    def log_run(self, event: str, commit: str | None = None, **extra: Any) -> None:
        """Append ``{"event": "start" | "end", "unix": now, "commit": ..., **extra}`` to ``runs.jsonl``."""
        if event not in ("start", "end"):
            raise ValueError(f"event must be 'start' or 'end'; got {event!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        with self.runs_path.open("a") as handle:
            handle.write(json.dumps({"event": event, "unix": time.time(), "commit": commit, **extra}) + "\n")

    def run_events(self) -> list[dict[str, Any]]:
        """Every line of ``runs.jsonl``, oldest first."""
        if not self.runs_path.exists():
            return []
        return [json.loads(line) for line in self.runs_path.read_text().splitlines() if line.strip()]

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
        events = self.run_events()
        starts = [e for e in events if e["event"] == "start"]
        ends = [e["unix"] for e in events if e["event"] == "end"]
        trials = self.load()
        finished = (pd.to_numeric(trials["finished_unix"], errors="coerce") if "finished_unix" in trials
                    else pd.Series(dtype=float))
        rows = []
        for i, start in enumerate(starts):
            begin, limit = start["unix"], starts[i + 1]["unix"] if i + 1 < len(starts) else float("inf")
            logged = [t for t in ends if begin <= t < limit]
            inside = finished[(finished >= begin) & (finished < limit)]
            end = logged[0] if logged else float(inside.max()) if len(inside) else begin
            rows.append(
                {
                    "started_unix": begin,
                    "ended_unix": end,
                    "seconds": end - begin,
                    "interrupted": not logged,
                    "commit": start.get("commit"),
                }
            )
        return pd.DataFrame(rows, columns=columns)

    def load(self) -> pd.DataFrame:
        """All recorded trials as one frame (metrics columns prefixed ``m_``); an unreadable trial
        file is moved aside (:meth:`_read`)."""
        files = sorted(self.trials_dir.glob("*.parquet")) if self.trials_dir.exists() else []
        frames = [frame for frame in map(self._read, files) if frame is not None]
        if not frames:
            return pd.DataFrame(columns=["trial_id", "status"])
        return pd.concat(frames, ignore_index=True)

    def _read(self, path: Path) -> pd.DataFrame | None:
        """One trial file, or ``None`` when it cannot be read: it is then moved to ``corrupt/``
        (its trial counts as not run, so ``--resume`` runs it again) with one line on stderr."""
        try:
            return pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types for a truncated or garbled file
            self.corrupt_dir.mkdir(parents=True, exist_ok=True)
            target = self.corrupt_dir / path.name
            os.replace(path, target)
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            print(
                f"[phantom] {path} cannot be read ({reason}): moved to {target}; its trial will run again (--resume)",
                file=sys.stderr,
            )
            return None


def data_provenance(source: str) -> dict[str, Any]:
    """The data a study's market was estimated from: kind, location, sha256, rows, synthetic."""
    return source_provenance(source).as_dict()


def git_commit(root: Path) -> str:
    """The bare commit checked out at ``root`` (40 hex digits), or ``"unknown"`` outside a checkout;
    whether the tree was dirty is recorded beside it (:func:`phantom_lib.study.design.vcs.tree_state`)."""
    return vcs.head(root) or "unknown"


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
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def _only_value(results: pd.DataFrame, column: str) -> Any:
    """The single value of ``column`` in ``results``, or ``None`` (no such column, or several values)."""
    values = results[column].dropna().unique() if column in results else []
    return values[0] if len(values) == 1 else None


def design_record(spec: StudyDesign) -> dict[str, Any]:
    """A design as plain data (factors, seeds, settings, twins, references)."""
    return {
        "factors": {k: list(v) for k, v in spec.factors.items()},
        "seeds": list(spec.seeds),
        "settings": dict(spec.settings),
        "baseline_twins": spec.baseline_twins,
        "references": list(spec.references),
    }


def provenance(
    design_name: str,
    spec: StudyDesign | None,
    trainable: str,
    seconds: float,
    results: pd.DataFrame,
    tree: Mapping[str, Any] | None = None,
    n_design: int | None = None,
) -> dict[str, Any]:
    """What produced a results table: the code (``tree``: :func:`~phantom_lib.study.design.vcs.tree_state`
    taken when the run started; default: the checkout's now), the design (``spec``; ``None`` for a
    list of trials run without one, whose count is ``n_design``), software, machine, time."""
    versions = software_versions()
    ok = int((results.get("status") == "ok").sum()) if len(results) else 0
    n_design = len(design(spec)) if spec is not None else int(n_design or 0)
    settings = dict(spec.settings) if spec is not None else {}
    timing = {}
    if "m_train_steps_per_s" in results:
        rates = pd.to_numeric(results["m_train_steps_per_s"], errors="coerce").dropna()
        timing = {
            "train_steps_per_s_median": float(rates.median()) if len(rates) else None,
            "trial_seconds_median": float(results["seconds"].median()),
        }
    return {
        "data": data_provenance(settings.get("data_source") or _only_value(results, "data_source") or "standin"),
        **(dict(tree) if tree is not None else vcs.tree_state(REPO_ROOT)),
        "design_name": design_name,
        "design": design_record(spec) if spec is not None else None,
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
    trials and seeds, compile and wall times, backend, device kind and count, JAX version, the
    distinct XLA compile option sets (JSON; "null" for batches recorded before they were); and
    the trials that ran the SB3 trainable because the jax engine has no learner for them.
    """
    if engine == "sb3":
        return {
            "name": "sb3",
            "backend": "cpu",
            "device_kind": "cpu",
            "device_count": 1,
            "note": "stable-baselines3 on torch (cpu, one thread per trial)",
        }
    records = store.batches()
    last = {trial_id: i for i, record in enumerate(records) for trial_id in record["trial_ids"]}
    ok = set(results.loc[results["status"] == "ok", "trial_id"]) if len(results) else set()
    used = [records[i] for i in sorted({last[t] for t in ok if t in last})]
    return {
        "name": "jax",
        "batch_sizes": sorted({r["batch_size"] for r in used}),
        "devices": sorted(
            {f"{r.get('backend', '?')}:{r.get('device_kind', '?')} x{r.get('device_count', '?')}" for r in used}
        ),  # '?': a batch runner that did not report it
        "jax_versions": sorted({str(r.get("jax_version", "?")) for r in used}),
        "xla_options": sorted({json.dumps(r.get("xla_options"), sort_keys=True) for r in used}),  # null: defaults
        "pool_mb": sorted({json.dumps(r.get("pool_mb")) for r in used}),  # null: 64, before it was recorded
        "compile_seconds_total": round(sum(r.get("compile_seconds", 0.0) for r in used), 1),
        "n_batches": len(used),
        "batches": used,
        "sb3_trainable": {
            "n_trials": len(ok - set(last)),
            "algorithms": sorted(results.loc[results["trial_id"].isin(ok - set(last)), "algorithm"].unique()),
        },
    }
