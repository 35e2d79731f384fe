"""What the study costs to run: the thesis's own runs, the book's studies and chapters, in seconds.

Three sources, each read, never typed:

* the thesis's published baseline runs record their own wall time (``runtime_s`` of
  ``data/published/revenue_alpha_runs.csv``): :func:`thesis_runtime`;
* a study folder's ``provenance.json`` records its trials, wall seconds, the machine's cores and the
  training budget per trial: :func:`study_cost` turns them into core-seconds per trial;
* a chapter run under GNU ``/usr/bin/time -v`` prints its wall time and peak memory:
  :func:`parse_time_v` reads that report, :func:`chapter_runs` every committed one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

MEASURED_DIR = Path("data") / "measured" / "run_times"
"""Where the chapters' ``/usr/bin/time -v`` reports are committed, one folder per profile
(``smoke/NN.time.txt``), relative to the repository root."""


@dataclass(frozen=True)
class ThesisRuntime:
    """The wall time of the thesis's runs (s), over ``n`` runs; ``total_hours`` sums them (run-hours)."""

    n: int
    min_s: float
    median_s: float
    max_s: float
    total_hours: float


def thesis_runtime(runs: pd.DataFrame) -> ThesisRuntime:
    """Summarise the ``runtime_s`` column of the thesis's runs (one row per run, ``run_id`` unique).

    Raises ``ValueError`` when a run appears twice (its time would count twice) or no run is given.
    """
    if runs.empty:
        raise ValueError("thesis_runtime(runs): no runs given; load them with study.thesis_runs.load_runs()")
    if runs["run_id"].duplicated().any():
        raise ValueError("thesis_runtime(runs): run_id repeats; give one row per run")
    seconds = runs["runtime_s"].astype(float)
    return ThesisRuntime(len(seconds), float(seconds.min()), float(seconds.median()), float(seconds.max()),
                         float(seconds.sum() / 3600))


@dataclass(frozen=True)
class StudyCost:
    """One committed study: ``trials`` finished in ``wall_s`` seconds on ``cores`` cores, each trained
    for ``timesteps`` environment steps per learner."""

    folder: str
    trials: int
    wall_s: float
    cores: int
    timesteps: int | None

    @property
    def core_s_per_trial(self) -> float:
        """Wall seconds times cores, per trial: what one trial costs the machine (core-seconds)."""
        return self.wall_s * self.cores / self.trials


def study_cost(folder: str | Path) -> StudyCost:
    """Read a study's ``provenance.json``: its finished trials (``n_ok``; a cross-check's rows of
    ``trials.parquet``), its wall seconds over every
    run that filled the folder (``wall_seconds_all_runs``, else ``wall_seconds_this_run``, else a
    cross-check's ``wall_seconds``), the machine's ``cpus`` and the design's ``timesteps``.

    Raises ``FileNotFoundError`` without a provenance file and ``KeyError`` naming what it lacks.
    """
    path = Path(folder) / "provenance.json"
    if not path.exists():
        raise FileNotFoundError(f"study_cost: no provenance at {path}; run the study first")
    record = json.loads(path.read_text(encoding="utf-8"))
    wall = next((record[k] for k in ("wall_seconds_all_runs", "wall_seconds_this_run", "wall_seconds")
                 if record.get(k) is not None), None)
    trials = record.get("n_ok", record.get("n_trials"))
    if trials is None and (Path(folder) / "trials.parquet").exists():  # a cross-check: one row per trial
        trials = len(pd.read_parquet(Path(folder) / "trials.parquet"))
    cores = record.get("machine", {}).get("cpus")
    missing = [name for name, v in (("wall seconds", wall), ("n_ok", trials), ("machine.cpus", cores)) if v is None]
    if missing:
        raise KeyError(f"study_cost: {path} records no {', '.join(missing)}")
    timesteps = (record.get("design", {}).get("settings") or record.get("settings") or {}).get("timesteps")
    return StudyCost(Path(folder).name, int(trials), float(wall), int(cores), timesteps)


@dataclass(frozen=True)
class Measured:
    """One command timed by ``/usr/bin/time -v``: wall seconds, peak resident memory (MB), exit status and
    the CPU seconds it used (user + system; far below wall time times cores on a loaded machine)."""

    wall_s: float
    peak_mb: float
    exit_status: int
    cpu_s: float = 0.0


_WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)")
_PEAK = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
_EXIT = re.compile(r"Exit status: (\d+)")
_CPU = re.compile(r"(?:User|System) time \(seconds\): ([\d.]+)")


def parse_time_v(report: str) -> Measured:
    """Read GNU time's verbose report: ``h:mm:ss`` or ``m:ss.ss`` wall clock, peak RSS in kB (MB = 1000 kB).

    Raises ``ValueError`` when the report lacks either line (not a ``time -v`` report)."""
    wall, peak, status = _WALL.search(report), _PEAK.search(report), _EXIT.search(report)
    if not (wall and peak):
        raise ValueError("parse_time_v: not a `/usr/bin/time -v` report (no wall clock or maximum resident set line)")
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    cpu = sum(float(x) for x in _CPU.findall(report))
    return Measured(seconds, int(peak.group(1)) / 1000, int(status.group(1)) if status else 0, cpu)


def chapter_runs(measured_dir: str | Path, profile: str) -> dict[str, Measured]:
    """Every committed ``NN.time.txt`` report of ``profile`` under ``measured_dir``, by chapter number."""
    folder = Path(measured_dir) / profile
    return {p.name.split(".")[0]: parse_time_v(p.read_text(encoding="utf-8"))
            for p in sorted(folder.glob("*.time.txt"))}


def load_averages(measured_dir: str | Path, profile: str) -> list[float]:
    """The one-minute load averages ``log.txt`` recorded after each timed chapter (``load=1.23 ...``)."""
    log = Path(measured_dir) / profile / "log.txt"
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    return [float(x) for x in re.findall(r"load=([\d.]+)", text)]


NOT_MEASURED = "not measured"


def run_table(chapters: list[str], measured_dir: str | Path, studies: list[str | Path]) -> pd.DataFrame:
    """Run time and peak memory of every chapter (its committed smoke report; the full profile's when one
    is committed, else :data:`NOT_MEASURED`) and of every study (wall seconds, trials and core-seconds per
    trial from its provenance; its memory is not recorded there).

    ``chapters`` are chapter stems (``"03_coi"``); reports are read by their number (``03``)."""
    runs = {profile: chapter_runs(measured_dir, profile) for profile in ("smoke", "full")}
    rows = []
    for stem in chapters:
        row: dict[str, object] = {"what": f"chapter {stem}"}
        for profile in ("smoke", "full"):
            found = runs[profile].get(stem[:2])
            row[f"{profile}: wall (s)"] = round(found.wall_s) if found else NOT_MEASURED
            row[f"{profile}: CPU (s)"] = round(found.cpu_s) if found else NOT_MEASURED
            row[f"{profile}: peak memory (MB)"] = round(found.peak_mb) if found else NOT_MEASURED
        rows.append(row)
    for folder in studies:
        cost = study_cost(folder)
        rows.append({"what": f"study {cost.folder} ({cost.trials} trials on {cost.cores} cores)",
                     **{f"smoke: {c}": "—" for c in ("wall (s)", "CPU (s)", "peak memory (MB)")},
                     "full: wall (s)": round(cost.wall_s), "full: CPU (s)": f"{cost.core_s_per_trial:.1f} per trial (wall × cores)",
                     "full: peak memory (MB)": "not recorded"})
    return pd.DataFrame(rows)
