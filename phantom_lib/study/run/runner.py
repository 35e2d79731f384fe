"""The factorial study runner: every trial of a design, on Ray, resumable (Model reference, section 7).

``phantom sweep --design NAME|FILE --engine {sb3,jax}`` runs a declared design's trials
(:mod:`phantom_lib.study.design.files`) as Ray tasks, after checking that its pre-registration is
committed (:mod:`phantom_lib.study.design.prereg`), on a one-machine cluster by default or on an existing cluster
(``--address`` or
``RAY_ADDRESS``). With the SB3 engine each task is one trial (:func:`phantom_lib.study.sb3.learners.train`).
With the jax engine each task is one batch of a slice (:mod:`phantom_lib.study.jax.engine`:
trials sharing their static shapes, trained by one compiled program, vmapped over seeds and
cells); reference policies (no learner) still run one per task with the trainable. A jax task asks Ray for a GPU when
the cluster has one (else a TPU, else a CPU), so
the same sweep runs unchanged on an accelerator; jax uses whatever device its task sees.
Each finished trial is written at once as its own parquet file, so a crash, a killed worker or
Ctrl-C loses nothing: ``--resume`` runs only the trials without a successful result (a batch's
trials are written when the batch finishes, so a killed run loses only unfinished batches; the
missing trials are batched again; a trial's numbers do not depend on its batch, see
:mod:`phantom_lib.study.jax.engine`). A trial that raises is recorded with its error and the sweep goes on (a batch
that raises records the error for each of its trials). ``provenance.json`` beside the
results records the commit, design, data, library versions, machine and wall time (see
:mod:`phantom_lib.study.design.store`);
``runs.jsonl`` logs when each run of the sweep in that folder started and ended, so the wall time
of a run that was killed (it ends at its last finished trial) is not lost on ``--resume``;
``batches.jsonl`` records each jax batch (its trials, seeds, batch size, XLA options, compile
time and device), written before its trials. After the last trial of a run the runner writes
``manifest.json`` (the sha256 of each file it wrote: :mod:`phantom_lib.study.design.manifest`).
A run holds an exclusive lock on its folder (a second run there fails with one line).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from phantom_lib.study.design import files, prereg, vcs
from phantom_lib.study.design.designs import StudyDesign, Trial, design
from phantom_lib.study.design.manifest import write_manifest
from phantom_lib.study.design.store import (
    REPO_ROOT,
    ResultsStore,
    engine_provenance,
    provenance,
)
from phantom_lib.study.run import ray_backend
from phantom_lib.study.run.options import DEFAULT_TRAINABLE, SweepOptions

Trainable = Callable[[dict[str, Any], int], Mapping[str, Any]]
"""``train(config, seed) -> metrics``: one trial; metrics are scalars or lists of numbers."""

BatchRunner = Callable[[Sequence[Trial], int], tuple[list[Mapping[str, Any]], Any]]
"""``run_batch(trials, batch_size) -> (metrics per trial, record)``: one batch of one slice; the record
has ``as_dict()`` (:func:`phantom_lib.study.jax.engine.run_batch`)."""

DEFAULT_BATCH_RUNNER = "phantom_lib.study.jax.engine:run_batch"
"""The jax engine's batch runner, named so a Ray worker imports it."""

DEFAULT_BATCH_SIZE = 16
"""Trials per compiled batch of the jax engine unless the sweep says otherwise."""

ENGINES = files.ENGINES
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


def _execute_unit(
    trainable: Trainable, batch_runner: BatchRunner | None, trials: list[Trial], batch_size: int
) -> tuple[list[Result], dict[str, Any] | None]:
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
    (:func:`phantom_lib.study.jax.engine.batch_sizes`): no padding where the slice has such a
    divisor, and a batch shards evenly over the devices. Computed from every trial of the design,
    not only the missing ones, so a resumed run batches at the same sizes."""
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
    return [(b, True, sizes[slice_key(b[0].config)]) for b in batches(learned, sizes)] + [
        ([t], False, 1) for t in others
    ]


def _program_of(unit: Sequence[Trial]) -> Any:
    """The slice (hence the compiled programs) of a task's trials."""
    from phantom_lib.study.jax.engine import slice_key

    return slice_key(unit[0].config)


def _compile_waves(
    units: list[tuple[list[Trial], bool, int]], engine: str, cached: bool
) -> tuple[list[tuple[list[Trial], bool, int]], dict[Any, list[tuple[list[Trial], bool, int]]]]:
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


def resolve_trainable(spec: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` (a :data:`Trainable` or a :data:`BatchRunner`)."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"trainable {spec!r} must look like 'package.module:function'")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    return function


class _Progress:
    """The trials' progress bar; it shows an ETA only once a rate exists (two tasks finished in this
    run: the first one's time includes starting workers and compiling)."""

    WAITING = "{desc}: {n_fmt}/{total_fmt} [{elapsed}, ETA after two tasks]"

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total, initial=done, desc="trials", unit="trial", disable=not enabled, bar_format=self.WAITING
        )
        self.tasks = 0

    def update(self, n: int) -> None:
        self.tasks += 1
        if self.tasks == 2:
            self.bar.bar_format = None  # tqdm's default: bar, rate and remaining time
        self.bar.update(n)

    def note(self, text: str) -> None:
        """Show ``text`` beside the bar (e.g. how many slices' programs are compiled)."""
        self.bar.set_postfix_str(text)

    def close(self) -> None:
        self.bar.close()


def _execute_all(
    trials: Sequence[Trial],
    trainable: Trainable,
    store: ResultsStore,
    options: SweepOptions,
    batch_runner: BatchRunner | str,
) -> pd.DataFrame:
    """Run the trials without a successful result in ``store`` (see :func:`run_trials`)."""
    engine = options.engine or "sb3"
    sizes = jax_batch_sizes(trials, options.batch_size) if engine == "jax" else {}
    found: Callable[..., Any] = resolve_trainable(batch_runner) if isinstance(batch_runner, str) else batch_runner
    runner: BatchRunner = (found if options.compile_cache is None
                           else partial(found, compile_cache=str(options.compile_cache)))
    done = store.finished()
    todo = [t for t in trials if t.trial_id not in done]
    units = _units(todo, engine, sizes)
    bar = _Progress(len(trials), len(trials) - len(todo), options.progress)

    def record(results: list[Result], batch: dict[str, Any] | None) -> None:
        if batch is not None:
            store.log_batch(batch)
        for trial, metrics, error, seconds in results:
            store.write(trial, metrics, error, seconds)
        bar.update(len(results))

    if options.executor == "local":
        for unit, batched, size in units:
            record(*_execute_unit(trainable, runner if batched else None, unit, size))
    elif units:
        started = ray_backend.connect(options.address, options.num_cpus)
        import ray  # after connect, which sets Ray's loopback switch for a local cluster before the first import

        try:
            remote = ray.remote(max_retries=1)(_execute_unit)

            def submit(unit: list[Trial], batched: bool, size: int) -> None:
                resources = ray_backend.task_resources(batched)
                pending[remote.options(**resources).remote(trainable, runner if batched else None, unit, size)] = unit

            pending: dict[Any, list[Trial]] = {}
            first, waiting = _compile_waves(units, engine, options.compile_cache is not None)
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
                    bar.note(f"compiled {compiled} of {n_programs} slices' programs")
                    released = waiting.pop(program) + (waiting.pop(None) if list(waiting) == [None] else [])
                    for task in released:
                        submit(*task)
        finally:
            if started:
                ray_backend.disconnect()
    bar.close()
    return store.load()


def _name(trainable: Trainable | str) -> str:
    """``module:function`` of a trainable."""
    if isinstance(trainable, str):
        return trainable
    return f"{getattr(trainable, '__module__', '?')}:{getattr(trainable, '__qualname__', repr(trainable))}"


def _record_run(
    trials: Sequence[Trial],
    trainable: Trainable,
    store: ResultsStore,
    options: SweepOptions,
    batch_runner: BatchRunner | str,
    name: str,
    spec: StudyDesign | None,
    extra: Mapping[str, Any],
) -> pd.DataFrame:
    """Run the missing trials and write the record: ``results.parquet``, ``provenance.json`` (the code's
    state as the run started, ``extra`` merged in) and, last, ``manifest.json``. The caller holds the lock."""
    tree = vcs.tree_state(REPO_ROOT, exclude=store.root)  # the code that runs, before anyone edits it
    if options.executor == "ray":
        ray_backend.check_ray_address(options.address)  # an unreachable head fails before the run is logged
    prereg_sha = [p["sha256"] for p in extra.get("preregistration") or []]
    store.log_run("start", tree["git_commit"], preregistration_sha256=prereg_sha)
    start = time.perf_counter()
    results = _execute_all(trials, trainable, store, options, batch_runner)
    results.to_parquet(store.root / "results.parquet", index=False)
    seconds = time.perf_counter() - start
    store.log_run("end", tree["git_commit"])
    record = provenance(
        name,
        spec,
        _name(options.trainable if spec is not None else trainable),
        seconds,
        results,
        tree,
        n_design=len(trials),
    )
    record.update(extra)
    record["options"] = options.as_dict()
    record["ray_address"] = ray_backend.cluster_address() if options.executor == "ray" else None
    record["engine"] = engine_provenance(options.engine or "sb3", store, results)
    runs = store.runs()
    record["wall_seconds_all_runs"] = round(float(runs["seconds"].sum()), 1)
    record["runs"] = runs.to_dict(orient="records")
    (store.root / "provenance.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    write_manifest(store.root, __name__)
    return results


def run_trials(
    trials: Sequence[Trial],
    trainable: Trainable,
    store: ResultsStore,
    options: SweepOptions | None = None,
    batch_runner: BatchRunner | str = DEFAULT_BATCH_RUNNER,
    name: str = "trials",
) -> pd.DataFrame:
    """Run the trials that have no successful result in ``store``; return every recorded trial.

    ``options.executor`` ``"ray"`` runs the tasks on Ray (one CPU each, or an accelerator for a jax
    batch); ``"local"`` runs them in this process one after another. ``options.engine``
    (:data:`ENGINES`, default ``sb3``) decides what a task is: ``sb3`` one trial of ``trainable``,
    ``jax`` one batch of a slice at the slice's size (:func:`jax_batch_sizes`: a divisor of the
    slice up to ``options.batch_size``) run by ``batch_runner``. Trials are written as each task finishes
    (a batch's record first); then, like :func:`sweep`, ``results.parquet``, ``provenance.json``
    (design ``name``, no pre-registration) and ``manifest.json``, so
    :func:`phantom_lib.study.load_results` reads the folder. Holds the folder's lock meanwhile.
    """
    options = options or SweepOptions()
    with store.lock():
        return _record_run(trials, trainable, store, options, batch_runner, name, None, {"kind": "trials"})


def _plan(name_or_file: str | Path | files.StudyPlan) -> files.StudyPlan:
    return name_or_file if isinstance(name_or_file, files.StudyPlan) else files.resolve(name_or_file)


def _design_file(plan: files.StudyPlan) -> dict[str, Any] | None:
    if plan.source is None:
        return None
    return {"path": str(plan.source), "sha256": hashlib.sha256(plan.source.read_bytes()).hexdigest()}


def _same_rules_as_first_run(store: ResultsStore, registered: dict[str, Any] | None) -> None:
    """A resumed folder keeps the pre-registration its first run started under."""
    starts = [e for e in store.run_events() if e["event"] == "start" and "preregistration_sha256" in e]
    now = [registered["sha256"]] if registered else []
    if starts and starts[0]["preregistration_sha256"] != now:
        raise prereg.PreregistrationError(
            f"the pre-registration changed since the first run in {store.root} "
            "(its sha256 differs): results under two sets of rules; use a new --out"
        )


def sweep(name_or_file: str | Path | files.StudyPlan, out: Path, options: SweepOptions | None = None) -> pd.DataFrame:
    """Run a declared design (a built-in name, a design file or a :class:`StudyPlan`) into ``out``:
    ``trials/``, ``results.parquet``, ``provenance.json`` and ``manifest.json``.

    Before anything runs: the design's trials are checked (with the default trainable), its
    pre-registration must be committed and unchanged from HEAD (kind ``"smoke"`` needs none), ``out``
    is locked, and a folder holding results needs ``options.resume`` (and the same pre-registration
    as its first run). Provenance records the pre-registration's path, commit and sha256."""
    plan = _plan(name_or_file)
    options = options or SweepOptions()
    options = options.replace(engine=options.engine or plan.engine or "sb3")
    if options.trainable == DEFAULT_TRAINABLE:
        files.check_trials(plan)
    registered = (prereg.require_committed(plan.preregistration)
                  if plan.kind == "study" and plan.preregistration is not None else None)
    store = ResultsStore(out)
    with store.lock():
        if store.load().shape[0] and not options.resume:
            raise FileExistsError(
                f"{out} already holds results: pass --resume to run only the missing trials, or choose another --out"
            )
        _same_rules_as_first_run(store, registered)
        extra = {
            "kind": plan.kind,
            "design_file": _design_file(plan),
            "preregistration": [registered] if registered else None,
        }
        return _record_run(
            design(plan.design),
            resolve_trainable(options.trainable),
            store,
            options,
            DEFAULT_BATCH_RUNNER,
            plan.name,
            plan.design,
            extra,
        )
