"""The factorial study runner: every trial of a design, on Ray, resumable (Model reference, section 7).

``phantom sweep --profile {smoke,full} --engine {sb3,jax}`` runs the design's trials as Ray
tasks, on a one-machine cluster by default or on an existing cluster (``--address`` or
``RAY_ADDRESS``). With the SB3 engine each task is one trial (:func:`phantom_lib.study.sb3.learners.train`).
With the jax engine each task is one batch of a slice (:mod:`phantom_lib.study.jax.engine`:
trials sharing their static shapes, trained by one compiled program, vmapped over seeds and
cells); reference policies (no learner) still run one per task with the trainable. A jax task asks Ray for a GPU when the cluster has one (else a TPU, else a CPU), so
the same sweep runs unchanged on an accelerator; jax uses whatever device its task sees.
Each finished trial is written at once as its own parquet file, so a crash, a killed worker or
Ctrl-C loses nothing: ``--resume`` runs only the trials without a successful result (a batch's
trials are written when the batch finishes, so a killed run loses only unfinished batches; the
missing trials are batched again at the same batch size, which gives them the numbers they
would have had). A trial that raises is recorded with its error and the sweep goes on (a batch
that raises records the error for each of its trials). ``provenance.json`` beside the
results records the commit, design, data, library versions, machine and wall time (see
:mod:`phantom_lib.study.design.store`);
``runs.jsonl`` logs when each run of the sweep in that folder started and ended, so the wall time
of a run that was killed (it ends at its last finished trial) is not lost on ``--resume``;
``batches.jsonl`` records each jax batch (its trials, seeds, batch size, compile time and
device), written before its trials.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from phantom_lib._net import unreachable_reason
from phantom_lib.study.design.designs import DESIGNS, Trial, design
from phantom_lib.study.design.store import (
    REPO_ROOT,
    ResultsStore,
    engine_provenance,
    git_commit,
    provenance,
)

Trainable = Callable[[dict[str, Any], int], Mapping[str, Any]]
"""``train(config, seed) -> metrics``: one trial; metrics are scalars or lists of numbers."""

DEFAULT_TRAINABLE = "phantom_lib.study.sb3.learners:train"
"""The study's trainable (:func:`phantom_lib.study.sb3.learners.train`), named so a Ray worker imports it."""

BatchRunner = Callable[[Sequence[Trial], int], tuple[list[Mapping[str, Any]], Any]]
"""``run_batch(trials, batch_size) -> (metrics per trial, record)``: one batch of one slice; the record
has ``as_dict()`` (:func:`phantom_lib.study.jax.engine.run_batch`)."""

DEFAULT_BATCH_RUNNER = "phantom_lib.study.jax.engine:run_batch"
"""The jax engine's batch runner, named so a Ray worker imports it."""

DEFAULT_BATCH_SIZE = 16
"""Trials per compiled batch of the jax engine unless the sweep says otherwise."""

ENGINES = ("sb3", "jax")
"""``sb3``: one trial per task (:data:`DEFAULT_TRAINABLE`); ``jax``: one batch per task."""

Result = tuple[Trial, dict[str, Any] | None, str | None, float]
"""A finished trial: (trial, metrics or None, error or None, seconds)."""


def _execute(trainable: Trainable, trial: Trial) -> tuple[dict[str, Any] | None, str | None, float]:
    """Run one trial, turning an exception into a recorded error."""
    start = time.perf_counter()
    try:
        metrics = dict(trainable(dict(trial.config), trial.seed))
        return metrics, None, time.perf_counter() - start
    except Exception:  # a failing trial is data, not a reason to stop the sweep
        return None, traceback.format_exc(limit=8), time.perf_counter() - start


def _execute_unit(trainable: Trainable, batch_runner: BatchRunner | None, trials: list[Trial],
                  batch_size: int) -> tuple[list[Result], dict[str, Any] | None]:
    """Run one task: a single trial with ``trainable`` (``batch_runner`` None) or a batch.

    Returns the finished trials and, for a batch, its record. A batch's ``seconds`` is each
    trial's share of the task's wall time (compile included).
    """
    if batch_runner is None:
        return [(trials[0], *_execute(trainable, trials[0]))], None
    start = time.perf_counter()
    try:
        rows, record = batch_runner(trials, batch_size)
        seconds = (time.perf_counter() - start) / len(trials)
        return [(t, dict(row), None, seconds) for t, row in zip(trials, rows)], record.as_dict()
    except Exception:  # a failing batch is data too: each of its trials records the error
        error, seconds = traceback.format_exc(limit=8), (time.perf_counter() - start) / len(trials)
        return [(t, None, error, seconds) for t in trials], None


def _learned(trials: Sequence[Trial]) -> list[Trial]:
    """The trials the jax engine trains (the others are reference policies)."""
    from phantom_lib.study.jax.learners import JAX_ALGORITHMS

    return [t for t in trials if t.config.get("algorithm") in JAX_ALGORITHMS]


def jax_batch_sizes(trials: Sequence[Trial], largest: int | None = None) -> dict[Any, int]:
    """Each slice's jax batch size: the largest divisor of the slice's trial count up to ``largest``
    (:data:`DEFAULT_BATCH_SIZE` by default) that is a multiple of this process's device count
    (:func:`phantom_lib.study.jax.engine.batch_sizes`): no padding, and a batch shards evenly over
    the devices. Computed from every trial of the design, not only the missing ones, so a resumed
    run batches at the same sizes."""
    import jax

    from phantom_lib.study.jax.engine import batch_sizes

    return batch_sizes(_learned(trials), largest or DEFAULT_BATCH_SIZE, jax.device_count())


def _units(todo: Sequence[Trial], engine: str, sizes: dict[Any, int]) -> list[tuple[list[Trial], bool, int]]:
    """The tasks of a run: ``(trials, batched, batch size)``; batches of the jax engine first (they
    take longest), each at its slice's size in ``sizes`` (:func:`jax_batch_sizes`)."""
    if engine == "sb3":
        return [([t], False, 1) for t in todo]
    from phantom_lib.study.jax.engine import batches, slice_key

    learned = _learned(todo)
    others = [t for t in todo if t not in learned]
    return ([(b, True, sizes[slice_key(b[0].config)]) for b in batches(learned, sizes)]
            + [([t], False, 1) for t in others])


def _program_of(unit: Sequence[Trial]) -> Any:
    """The slice (hence the compiled programs) of a task's trials."""
    from phantom_lib.study.jax.engine import slice_key

    return slice_key(unit[0].config)


def _compile_waves(units: list[tuple[list[Trial], bool, int]], engine: str,
                   cached: bool) -> tuple[list[tuple[list[Trial], bool, int]], dict[Any, list[tuple[list[Trial], bool, int]]]]:
    """Which tasks start at once and which wait (keyed by the slice they wait for): with the jax
    engine and a compile cache, one batch per slice starts (it compiles the slice's two programs
    into the cache) and the slice's other batches wait for it, so no two workers compile the same
    program; the unbatched tasks (key None) wait for the last slice's release, so the long jax
    batches are queued first. Without a cache, or with no batch, all start."""
    if engine != "jax" or not cached or not any(batched for _, batched, _ in units):
        return units, {}
    first: list[tuple[list[Trial], bool, int]] = []
    waiting: dict[Any, list[tuple[list[Trial], bool, int]]] = {}
    for task in units:
        key = _program_of(task[0]) if task[1] else None
        if key is not None and key not in waiting:
            first.append(task)
            waiting[key] = []
        else:
            waiting.setdefault(key, []).append(task)
    return first, waiting


def _task_resources(batched: bool) -> dict[str, float]:
    """Ray resources of a task: a jax batch takes an accelerator when the cluster has one."""
    import ray

    if batched:
        cluster = ray.cluster_resources()
        for name in ("GPU", "TPU"):
            if cluster.get(name, 0) >= 1:
                return {"num_cpus": 1, "num_gpus": 1} if name == "GPU" else {"num_cpus": 1, "resources": {"TPU": 1}}
    return {"num_cpus": 1}


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
    printed: only warnings and errors, less the notice that a local cluster enabled token
    authentication (the secure default, nothing for the user to do). A cluster that cannot be joined raises
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
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
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
    engine: str = "sb3",
    batch_size: int | None = None,
    batch_runner: BatchRunner | str = DEFAULT_BATCH_RUNNER,
    compile_cache: Path | None = None,
) -> pd.DataFrame:
    """Run the trials that have no successful result in ``store``; return every recorded trial.

    ``executor="ray"`` runs the tasks on Ray (one CPU each, or an accelerator for a jax batch);
    ``"local"`` runs them in this process one after another (debugging, tests). ``engine``
    (:data:`ENGINES`) decides what a task is: ``sb3`` one trial, ``jax`` one batch of a slice, at
    the slice's size (:func:`jax_batch_sizes`: a divisor of the slice up to ``batch_size``)
    run by ``batch_runner`` (given ``compile_cache``, a folder for compiled programs, when set).
    Results are written as each task finishes (a batch's record first).
    """
    from tqdm.auto import tqdm

    if executor not in ("ray", "local"):
        raise ValueError(f"executor must be 'ray' or 'local'; got {executor!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}")
    sizes = jax_batch_sizes(trials, batch_size) if engine == "jax" else {}
    runner = resolve_trainable(batch_runner) if isinstance(batch_runner, str) else batch_runner
    if compile_cache is not None:
        runner = partial(runner, compile_cache=str(compile_cache))
    done = store.finished()
    todo = [t for t in trials if t.trial_id not in done]
    units = _units(todo, engine, sizes)
    bar = tqdm(total=len(trials), initial=len(trials) - len(todo), desc="trials", unit="trial", disable=not progress)

    def record(results: list[Result], batch: dict[str, Any] | None) -> None:
        if batch is not None:
            store.log_batch(batch)
        for trial, *result in results:
            store.write(trial, *result)
        bar.update(len(results))

    if executor == "local":
        for unit, batched, size in units:
            record(*_execute_unit(trainable, runner if batched else None, unit, size))
    elif units:
        import ray

        started = _ray_init(address, num_cpus)
        try:
            remote = ray.remote(max_retries=1)(_execute_unit)

            def submit(unit: list[Trial], batched: bool, size: int) -> None:
                pending[remote.options(**_task_resources(batched)).remote(trainable, runner if batched else None, unit,
                                                                          size)] = unit

            pending: dict[Any, list[Trial]] = {}
            first, waiting = _compile_waves(units, engine, compile_cache is not None)
            for task in first:
                submit(*task)
            compiled, n_programs = 0, len(waiting) - (None in waiting)
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                unit = pending.pop(ready[0])
                try:
                    results, batch = ray.get(ready[0])
                except Exception as err:  # the worker died: record it, go on
                    results, batch = [(t, None, f"{type(err).__name__}: {err}", float("nan")) for t in unit], None
                record(results, batch)
                program = _program_of(unit) if engine == "jax" else None
                if program is not None and program in waiting:  # compiled and cached: release its other batches
                    compiled += 1
                    bar.set_postfix_str(f"compiled {compiled} of {n_programs} slices' programs")
                    released = waiting.pop(program) + (waiting.pop(None) if list(waiting) == [None] else [])
                    for task in released:
                        submit(*task)
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
    engine: str = "sb3",
    batch_size: int | None = None,
    compile_cache: Path | None = None,
) -> pd.DataFrame:
    """Run a sweep profile into ``out`` (trials/, results.parquet, provenance.json) with ``engine``
    (``compile_cache``: where the jax engine keeps compiled programs across processes and runs)."""
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
    results = run_trials(design(profile), resolve_trainable(trainable), store, executor, address, num_cpus,
                         engine=engine, batch_size=batch_size, compile_cache=compile_cache)
    results.to_parquet(Path(out) / "results.parquet", index=False)
    seconds = time.perf_counter() - start
    store.log_run("end", commit)
    record = provenance(profile_name, profile, trainable, seconds, results, commit)
    record["engine"] = engine_provenance(engine, store, results)
    runs = store.runs()
    record["wall_seconds_all_runs"] = round(float(runs["seconds"].sum()), 1)
    record["runs"] = runs.to_dict(orient="records")
    (Path(out) / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return results
