"""The factorial study runner: every trial of a design, on Ray, resumable (Model reference, section 7).

``phantom sweep --profile {smoke,full}`` runs the design's trials as Ray tasks, on a
one-machine cluster by default or on an existing cluster (``--address`` or ``RAY_ADDRESS``).
Each finished trial is written at once as its own parquet file, so a crash, a killed worker or
Ctrl-C loses nothing: ``--resume`` runs only the trials without a successful result. A trial
that raises is recorded with its error and the sweep goes on. ``provenance.json`` beside the
results records the commit, design, data, library versions, machine and wall time (see
:mod:`phantom_lib.study.store`);
``runs.jsonl`` logs when each run of the sweep in that folder started and ended, so the wall time
of a run that was killed (it ends at its last finished trial) is not lost on ``--resume``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from phantom_lib._net import unreachable_reason
from phantom_lib.study.designs import DESIGNS, Trial, design
from phantom_lib.study.store import REPO_ROOT, ResultsStore, git_commit, provenance

Trainable = Callable[[dict[str, Any], int], Mapping[str, Any]]
"""``train(config, seed) -> metrics``: one trial; metrics are scalars or lists of numbers."""

DEFAULT_TRAINABLE = "phantom_lib.study.learners:train"
"""The study's trainable (:func:`phantom_lib.study.learners.train`), named so a Ray worker imports it."""


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


RAY_PROBE_TIMEOUT = 5.0
"""Seconds allowed for the TCP probe of a Ray head before ``ray.init`` (which would retry for minutes)."""

_RAY_FIX = ("start the head there (`ray start --head --port=6379`, plus `--ray-client-server-port=10001` "
            "for ray:// addresses), correct --address / $RAY_ADDRESS, or leave both unset to run on this machine")


class RayConnectionError(RuntimeError):
    """The Ray cluster named by ``--address`` or ``$RAY_ADDRESS`` cannot be used (one line: what
    was tried and how to fix it)."""


def _ray_address(address: str | None) -> str | None:
    """The cluster to join: ``address``, else ``$RAY_ADDRESS``; ``None`` for a local cluster."""
    return address or os.environ.get("RAY_ADDRESS") or None


def check_ray_address(address: str | None) -> None:
    """Fail within :data:`RAY_PROBE_TIMEOUT` seconds when the Ray head named by ``address`` (or
    ``$RAY_ADDRESS``) does not accept connections: raises :class:`RayConnectionError` naming the
    address, the reason (connection refused, unknown host, no answer) and the fix. ``None``,
    ``"local"`` and ``"auto"`` are left to ``ray.init``."""
    target = _ray_address(address)
    if target in (None, "local", "auto"):
        return
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayConnectionError(f"Ray address {target!r} is not HOST:PORT or ray://HOST:PORT: write it like "
                                 "head.example.org:6379 (what `ray start --head` prints) or ray://head.example.org:10001")
    reason = unreachable_reason(host.strip("[]"), int(port), RAY_PROBE_TIMEOUT)
    if reason is not None:
        raise RayConnectionError(f"cannot reach the Ray head at {target} ({reason}): {_RAY_FIX}")


def _ray_init(address: str | None, num_cpus: int | None) -> bool:
    """Start (or connect to) Ray unless already running; True if this call started it.

    Ray's INFO lines (the cluster it started, the authentication token it generated) are not
    printed: only warnings and errors. A cluster that cannot be joined raises
    :class:`RayConnectionError` (one line) instead of Ray's retries and traceback.
    """
    import ray

    if ray.is_initialized():
        return False
    address = _ray_address(address)
    check_ray_address(address)
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                     object_store_memory=200 * 1024**2, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError, SystemExit) as err:  # SystemExit: Ray's GCS time-out
        tried = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        fix = _RAY_FIX
        if isinstance(err, ConnectionAbortedError) and str(address).startswith("ray://"):
            fix = ("the head's Ray client server could not start a server for this client (Ray issue 63202, "
                   "a gRPC fork race): restart the head with GRPC_ENABLE_FORK_SUPPORT=0 in its environment")
        first = str(err).strip().splitlines()[0] if str(err).strip() else "no message"
        raise RayConnectionError(f"cannot start or join {tried} ({type(err).__name__}: {first}): {fix}") from None
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
    if profile_name not in DESIGNS:
        raise ValueError(f"unknown study design {profile_name!r}; choose one of {sorted(DESIGNS)}")
    profile = DESIGNS[profile_name]
    store = ResultsStore(out)
    if store.load().shape[0] and not resume:
        raise FileExistsError(f"{out} already holds results: pass --resume to run only the missing trials, "
                              "or choose another --out")
    commit = git_commit(REPO_ROOT)  # the code that runs, before anyone edits it
    if executor == "ray":
        check_ray_address(address)  # an unreachable head fails before the run is logged
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
