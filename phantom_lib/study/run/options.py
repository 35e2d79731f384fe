"""How a sweep runs (not what it runs): :class:`SweepOptions`, one value passed to
:func:`phantom_lib.study.run.runner.sweep` and :func:`~phantom_lib.study.run.runner.run_trials`
instead of a long list of parameters."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phantom_lib._validation import (
    Boolean,
    Choice,
    InstanceOf,
    Integer,
    OrNone,
    Rule,
    Text,
    Validated,
)
from phantom_lib.study.design.files import ENGINES

DEFAULT_TRAINABLE = "phantom_lib.study.sb3.learners:train"
"""The study's trainable (:func:`phantom_lib.study.sb3.learners.train`), named so a Ray worker imports it."""

EXECUTORS = ("ray", "local")
"""``ray``: tasks on a Ray cluster; ``local``: one after another in this process (debugging, tests)."""


@dataclass(frozen=True)
class SweepOptions(Validated):
    """How a sweep runs.

    Attributes:
        trainable: ``"module:function"`` called as ``f(config, seed)`` for each trial (sb3 engine,
            and reference policies under the jax engine).
        resume: run only the trials without a successful result in a folder that holds results
            (``sweep`` refuses such a folder otherwise; ``run_trials`` always resumes).
        executor: :data:`EXECUTORS`.
        address: the Ray cluster to join (default: ``$RAY_ADDRESS``, else a local cluster).
        num_cpus: CPUs of the local Ray cluster (default: all).
        engine: :data:`~phantom_lib.study.design.files.ENGINES`; ``None``: the design's engine,
            else ``sb3``.
        batch_size: jax engine: trials per compiled batch (default: the runner's choice).
        compile_cache: jax engine: folder of compiled programs shared by workers and runs.
        progress: show a progress bar on stderr.
    """

    trainable: str = DEFAULT_TRAINABLE
    resume: bool = False
    executor: str = "ray"
    address: str | None = None
    num_cpus: int | None = None
    engine: str | None = None
    batch_size: int | None = None
    compile_cache: Path | None = None
    progress: bool = True

    _parameter_constraints = {
        "trainable": (
            Text("'package.module:function'"),
            Rule(lambda c: ":" in c.trainable, "'package.module:function'"),
        ),
        "resume": (Boolean(),),
        "executor": (Choice(EXECUTORS),),
        "address": (OrNone(Text("a Ray address")),),
        "num_cpus": (OrNone(Integer(low=1)),),
        "engine": (OrNone(Choice(ENGINES)),),
        "batch_size": (OrNone(Integer(low=1)),),
        "compile_cache": (OrNone(InstanceOf((str, Path), "a folder")),),
        "progress": (Boolean(),),
    }

    def replace(self, **changes: Any) -> SweepOptions:
        """A copy with ``changes`` applied (checked again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The options as plain data (paths as strings), for provenance."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}
