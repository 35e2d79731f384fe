"""The factorial study runner: every configuration x seed, on Ray, resumable (MODEL.md section 7).

``phantom sweep --profile {smoke,full}`` runs the design's trials as Ray tasks, on a
one-machine cluster by default or on an existing cluster (``--address`` or ``RAY_ADDRESS``).
Each finished trial is written at once as its own parquet file, so a crash, a killed worker or
Ctrl-C loses nothing: ``--resume`` runs only the trials without a successful result. A trial
that raises is recorded with its error and the sweep goes on. ``provenance.json`` beside the
results records the commit, profile, full configuration, library versions, machine and wall time;
``runs.jsonl`` logs when each run of the sweep in that folder started and ended, so the wall time
of a run that was killed (it ends at its last finished trial) is not lost on ``--resume``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import itertools
import json
import os
import platform
import re
import subprocess
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

Trainable = Callable[[dict[str, Any], int], Mapping[str, Any]]
"""``train(config, seed) -> metrics``: one trial; metrics are scalars or lists of numbers."""

FACTORS: dict[str, tuple[Any, ...]] = {
    "algorithm": ("ppo", "a2c", "dqn", "qtable"),
    "alpha0": (0.1, 0.25, 0.4, 0.6),
    "eps_alpha": (0.0, 0.15, 0.3),
    "lambda_coi": (0.15, 0.30),
    "action_levels": (5, 9),
}
"""The published factorial design: 4 x 4 x 3 x 2 x 2 = 192 configurations."""

DEFAULT_TRAINABLE = "phantom_lib.study.learners:train"


@dataclass(frozen=True)
class SweepProfile:
    """What one sweep runs.

    Attributes:
        factors: factor name -> levels; the design is their full cross product.
        seeds: training seeds; every configuration runs once per seed.
        settings: fixed settings added to every trial's config (budgets, env sizes).
        baseline_twins: add, for every design cell, its baseline twin (:data:`BASELINE`
            applied, ``variant="baseline"``) once per distinct twin and seed; design cells are
            then labelled ``variant="defended"``.
        references: reference policies (``phantom_lib.study.learners.REFERENCES``) evaluated, once
            per seed, at every distinct (alpha0, lambda_coi, action_levels, ...) cell of the
            design without training (``variant="reference"``, eps_alpha 0, K 1).
    """

    factors: Mapping[str, Sequence[Any]]
    seeds: tuple[int, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    baseline_twins: bool = False
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.baseline_twins or self.references) and "algorithm" not in self.factors:
            raise ValueError("SweepProfile: baseline_twins and references need an 'algorithm' factor")
        if not self.factors or any(len(levels) == 0 for levels in self.factors.values()):
            raise ValueError("SweepProfile.factors needs at least one factor and one level per factor")
        if not self.seeds:
            raise ValueError("SweepProfile.seeds must name at least one seed")
        clash = set(self.factors) & set(self.settings)
        if clash:
            raise ValueError(f"SweepProfile: {sorted(clash)} appear both as factors and as fixed settings")


REFERENCE_POLICIES = ("static", "surge", "elasticity", "random", "best_fixed")
"""The non-learning anchors of ``phantom_lib.study.learners`` evaluated beside the learners."""

SWEEP_PROFILES: dict[str, SweepProfile] = {
    "smoke": SweepProfile(
        factors={"algorithm": ("ppo", "a2c", "dqn", "qtable"), "alpha0": (0.1, 0.4), "eps_alpha": (0.15,),
                 "lambda_coi": (0.15,), "action_levels": (5,)},
        seeds=(0,),
        settings={"timesteps": 256, "eval_episodes": 1, "max_steps": 20, "curve_points": 4, "n_candidates": 5},
        baseline_twins=True,
        references=REFERENCE_POLICIES,
    ),
    "full": SweepProfile(
        factors=FACTORS,
        seeds=(0, 1, 2),
        settings={"timesteps": 8192, "eval_episodes": 1, "max_steps": 100, "curve_points": 8, "n_candidates": 5},
        baseline_twins=True,
        references=REFERENCE_POLICIES,
    ),
}
"""Sweep profiles.

``smoke``: 8 design cells (4 algorithms x 2 alpha0), their 8 baseline twins and 10 reference
trials, 256 training steps each: a check that everything runs, not a result.

``full``: the 192-cell design x 3 seeds (576 trials), 32 x 3 baseline twins and 80 x 3
reference trials (912 in all), 8192 training steps per learner (81 episodes of 100 steps and a
part). Measured in that run on this 2-core machine: 57.3 minutes of wall time over two runs (the
first was killed with its session after 184 trials and resumed), 6855 core-seconds in the trials,
0.84 core-seconds per step of the per-trial budget; median env steps/s inside training 640 with
eps_alpha > 0 (K = 5 market draws per step) and 1350 with eps_alpha = 0. An earlier run at 3072
steps took 26.6 minutes. 90 minutes on 2 cores allow about 12,000 steps per learner on an idle
machine.
"""


@dataclass(frozen=True)
class Trial:
    """One run of the design: a configuration and a seed."""

    config: dict[str, Any]
    seed: int

    @property
    def trial_id(self) -> str:
        """Stable, readable id, e.g. ``ppo-alpha0=0.1-...-seed=0-3f2a1c``: factor values then a hash."""
        text = json.dumps({"config": self.config, "seed": self.seed}, sort_keys=True)
        digest = hashlib.sha1(text.encode()).hexdigest()[:6]
        parts = [str(self.config.get("algorithm", "trial"))]
        parts += [f"{k}={v}" for k, v in sorted(self.config.items()) if k != "algorithm"]
        readable = re.sub(r"[^A-Za-z0-9._=-]+", "_", "-".join(parts))[:120]
        return f"{readable}-seed={self.seed}-{digest}"


BASELINE: dict[str, Any] = {"lambda_coi": 0.0, "eps_alpha": 0.0, "n_candidates": 1}
"""MODEL.md section 6: the baseline (no defence) is lambda_coi 0, eps_alpha 0, K 1."""


def _cells(profile: SweepProfile) -> list[dict[str, Any]]:
    """Every configuration of the profile (design cells, then twins, then references), no seed."""
    names = list(profile.factors)
    cells = [{**dict(profile.settings), **dict(zip(names, values))}
             for values in itertools.product(*(profile.factors[n] for n in names))]
    if not (profile.baseline_twins or profile.references):
        return cells
    extra: list[dict[str, Any]] = []
    if profile.baseline_twins:
        extra += [{**cell, **BASELINE, "variant": "baseline"} for cell in cells]
    extra += [{**cell, "algorithm": name, "eps_alpha": 0.0, "n_candidates": 1, "variant": "reference"}
              for name in profile.references for cell in cells]
    unique = {json.dumps(c, sort_keys=True): c for c in extra}  # twins and references repeat across cells
    return [{**cell, "variant": "defended"} for cell in cells] + list(unique.values())


def design(profile: SweepProfile) -> list[Trial]:
    """Every configuration x seed, seed by seed (a partial sweep holds whole seeds first).

    Configurations: every factor combination with the fixed settings merged in, plus the
    baseline twins and reference policies the profile asks for.
    """
    cells = _cells(profile)
    return [Trial(config, seed) for seed in profile.seeds for config in cells]


class ResultsStore:
    """One parquet file per finished trial under ``root/trials/``, written atomically, and a
    log of the runs that wrote them (``root/runs.jsonl``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.trials_dir = self.root / "trials"
        self.runs_path = self.root / "runs.jsonl"

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


def _execute(trainable: Trainable, trial: Trial) -> tuple[dict[str, Any] | None, str | None, float]:
    """Run one trial, turning an exception into a recorded error."""
    start = time.perf_counter()
    try:
        metrics = dict(trainable(dict(trial.config), trial.seed))
        return metrics, None, time.perf_counter() - start
    except Exception:  # a failing trial is data, not a reason to stop the sweep
        return None, traceback.format_exc(limit=8), time.perf_counter() - start


def resolve_trainable(spec: str) -> Trainable:
    """Import ``"package.module:function"``."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"trainable {spec!r} must look like 'package.module:function'")
    return getattr(importlib.import_module(module_name), attr)


def _ray_init(address: str | None, num_cpus: int | None) -> bool:
    """Start (or connect to) Ray unless already running; True if this call started it."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 object_store_memory=200 * 1024**2)
    return True


def run_trials(
    trials: Sequence[Trial],
    trainable: Trainable,
    store: ResultsStore,
    executor: str = "ray",
    address: str | None = None,
    num_cpus: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run the trials that have no successful result in ``store``; return every recorded trial.

    ``executor="ray"`` runs them as Ray tasks (one CPU each); ``"local"`` runs them in this
    process one after another (debugging, tests). Results are written as each trial finishes.
    """
    from tqdm.auto import tqdm

    if executor not in ("ray", "local"):
        raise ValueError(f"executor must be 'ray' or 'local'; got {executor!r}")
    done = store.finished()
    todo = [t for t in trials if t.trial_id not in done]
    bar = tqdm(total=len(trials), initial=len(trials) - len(todo), desc="trials", unit="trial", disable=not progress)
    if executor == "local":
        for trial in todo:
            store.write(trial, *_execute(trainable, trial))
            bar.update()
    elif todo:
        import ray

        started = _ray_init(address, num_cpus)
        try:
            remote = ray.remote(num_cpus=1, max_retries=1)(_execute)
            pending = {remote.remote(trainable, t): t for t in todo}
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                trial = pending.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except Exception as err:  # the worker died: record it, go on
                    result = (None, f"{type(err).__name__}: {err}", float("nan"))
                store.write(trial, *result)
                bar.update()
        finally:
            if started:
                ray.shutdown()
    bar.close()
    return store.load()


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=40"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(profile_name: str, profile: SweepProfile, trainable: str, seconds: float,
               results: pd.DataFrame, commit: str | None = None) -> dict[str, Any]:
    """What produced a results table: code (``commit``, default: the checkout's now), configuration,
    software, machine, time."""
    packages = ["phantom_lib", "numpy", "pandas", "gymnasium", "stable-baselines3", "torch", "jax", "ray"]
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    ok = int((results.get("status") == "ok").sum()) if len(results) else 0
    n_design = len(design(profile))
    timing = {}
    if "m_train_steps_per_s" in results:
        rates = pd.to_numeric(results["m_train_steps_per_s"], errors="coerce").dropna()
        timing = {"train_steps_per_s_median": float(rates.median()) if len(rates) else None,
                  "trial_seconds_median": float(results["seconds"].median())}
    return {
        "git_commit": commit or _git_commit(Path(__file__).resolve().parents[2]),
        "profile": profile_name,
        "design": {"factors": {k: list(v) for k, v in profile.factors.items()}, "seeds": list(profile.seeds),
                   "settings": dict(profile.settings), "baseline_twins": profile.baseline_twins,
                   "references": list(profile.references)},
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
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def sweep(
    profile_name: str,
    out: Path,
    trainable: str = DEFAULT_TRAINABLE,
    resume: bool = False,
    executor: str = "ray",
    address: str | None = None,
    num_cpus: int | None = None,
) -> pd.DataFrame:
    """Run a sweep profile into ``out`` (trials/, results.parquet, provenance.json)."""
    if profile_name not in SWEEP_PROFILES:
        raise ValueError(f"unknown sweep profile {profile_name!r}; choose one of {sorted(SWEEP_PROFILES)}")
    profile = SWEEP_PROFILES[profile_name]
    store = ResultsStore(out)
    if store.load().shape[0] and not resume:
        raise FileExistsError(f"{out} already holds results: pass --resume to run only the missing trials, "
                              "or choose another --out")
    commit = _git_commit(Path(__file__).resolve().parents[2])  # the code that runs, before anyone edits it
    store.log_run("start", commit)
    start = time.perf_counter()
    results = run_trials(design(profile), resolve_trainable(trainable), store, executor, address, num_cpus)
    results.to_parquet(Path(out) / "results.parquet", index=False)
    seconds = time.perf_counter() - start
    store.log_run("end", commit)
    record = provenance(profile_name, profile, trainable, seconds, results, commit)
    runs = store.runs()
    record["wall_seconds_all_runs"] = round(float(runs["seconds"].sum()), 1)
    record["runs"] = runs.to_dict(orient="records")
    (Path(out) / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return results


def _run(args: argparse.Namespace) -> int:
    out = Path(args.out or f"results/sweep-{args.profile}")
    results = sweep(args.profile, out, args.trainable, args.resume, args.executor, args.address, args.num_cpus)
    failed = int((results["status"] != "ok").sum())
    print(f"[phantom] {len(results)} trials recorded in {out} ({failed} failed)")
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``phantom sweep``."""
    parser.add_argument("--profile", choices=sorted(SWEEP_PROFILES), default="smoke")
    parser.add_argument("--out", help="results folder (default results/sweep-PROFILE)")
    parser.add_argument("--resume", action="store_true", help="run only the trials without a successful result")
    parser.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local cluster)")
    parser.add_argument("--num-cpus", type=int, help="CPUs of the local cluster (default: all)")
    parser.add_argument("--executor", choices=["ray", "local"], default="ray",
                        help="'local' runs trials one by one in this process (debugging)")
    parser.add_argument("--trainable", default=DEFAULT_TRAINABLE, help="module:function called as f(config, seed)")
    parser.set_defaults(func=_run)


def as_frame(trials: Iterable[Trial]) -> pd.DataFrame:
    """The design as a table (one row per trial)."""
    return pd.DataFrame([{"trial_id": t.trial_id, "seed": t.seed, **t.config} for t in trials])

