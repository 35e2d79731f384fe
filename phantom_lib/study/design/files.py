"""Studies declared in files: a TOML design file read into a :class:`StudyPlan` (a
:class:`~phantom_lib.study.design.designs.StudyDesign` plus how it runs and its pre-registration).

``phantom sweep --design NAME|FILE`` runs one: ``NAME`` is a built-in design (the files in
``phantom_lib/study/design/builtin/``, the only definition of :data:`DESIGNS`), ``FILE`` a user's::

    name = "my-study"
    kind = "study"                     # "smoke": a check that it runs, no pre-registration needed
    preregistration = "my-study.prereg.toml"   # beside this file; committed before the run
    engine = "sb3"                     # or "jax"; `phantom sweep --engine` overrides
    seeds = [0, 1, 2]
    baseline_twins = true              # add each cell's baseline twin (needs an 'algorithm' factor)
    references = ["static", "best_fixed"]

    [factors]                          # the full cross product of these levels
    algorithm = ["ppo"]
    alpha0 = [0.1, 0.4]

    [budget]                           # per trial: timesteps, eval_episodes, max_steps, curve_points, search_episodes
    timesteps = 4096

    [market]                           # any other trial, env or market setting (proxy, visits, n_products, ...)
    proxy = "mass"

    [[blocks]]                         # optional: the design is the union of blocks, each the product
    algorithm = ["dqn"]                # of the factors with these levels replaced
    alpha0 = [0.1]

    [presets.defence.robust]           # optional: a factor's level standing for settings (the
    eps_alpha = 0.2                    # factor 'defence' is a label kept in each trial's config)

Every error is one line naming the file and the key: ``my.toml: factors.alpha0 = 'x': expected a
finite number in [0, 1]``.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phantom_lib._validation import ConfigError, problem
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.market import MarketConfig
from phantom_lib.study.design.designs import (
    REFERENCE_POLICIES,
    StudyDesign,
    TrialConfig,
    design,
)

BUILTIN_DIR = Path(__file__).with_name("builtin")
"""The built-in design files (and their pre-registrations)."""

ENGINES = ("sb3", "jax")
"""``sb3``: one trial per task (stable-baselines3); ``jax``: one compiled batch of a slice per task."""

KINDS = ("study", "smoke")
"""``study``: results meant to be read (a committed pre-registration is required); ``smoke``: a
check that the machinery runs (tests, a first try), no pre-registration."""

BUDGET = ("timesteps", "eval_episodes", "max_steps", "curve_points", "search_episodes")
"""Keys of a design file's ``[budget]`` table."""

TOP_KEYS = ("name", "kind", "description", "preregistration", "engine", "seeds", "baseline_twins", "references",
            "factors", "budget", "market", "blocks", "presets")


class DesignFileError(ValueError):
    """A design file or name cannot be used (one line naming the file, the key and what is expected)."""


@dataclass(frozen=True)
class StudyPlan:
    """A declared study: its design, how it runs and the rules fixed before it.

    Attributes:
        name: the design's name (recorded in provenance).
        design: the trials (factors, seeds, fixed settings, twins, references).
        kind: :data:`KINDS`.
        engine: the engine the design was written for (:data:`ENGINES`), or ``None`` (sb3).
        preregistration: the pre-registration file (absolute), ``None`` for a smoke design.
        source: the design file, ``None`` for a design built in code.
        description: one line.
        locations: setting or factor name -> where the file declares it (``"factors.alpha0"``).
    """

    name: str
    design: StudyDesign
    kind: str = "smoke"
    engine: str | None = None
    preregistration: Path | None = None
    source: Path | None = None
    description: str = ""
    locations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DesignFileError(problem("StudyPlan", "kind", self.kind, f"one of {', '.join(map(repr, KINDS))}"))
        if self.kind == "study" and self.preregistration is None:
            raise DesignFileError(problem("StudyPlan", "preregistration", None,
                                          "a pre-registration file for kind 'study' (kind 'smoke' needs none)"))


def _fail(where: str, key: str, value: Any, expected: str) -> DesignFileError:
    return DesignFileError(f"{where}: {key} = {value!r}: expected {expected}")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _table(where: str, data: dict[str, Any], name: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
    """``data[name]`` checked to be a table of scalars (factors: of non-empty lists of scalars)."""
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise _fail(where, name, table, "a table")
    for key, value in table.items():
        if allowed is not None and key not in allowed:
            raise _fail(where, f"{name}.{key}", value, f"a key of [{name}]: one of {', '.join(allowed)}")
        if name == "factors" and not (isinstance(value, list) and value and all(map(_is_scalar, value))):
            raise _fail(where, f"factors.{key}", value, "a non-empty list of levels (numbers, strings or booleans)")
        if name != "factors" and not _is_scalar(value):
            raise _fail(where, f"{name}.{key}", value, "a number, string or boolean")
    return table


def _market_keys() -> tuple[str, ...]:
    """Keys a ``[market]`` table may set: every trial, env and market field but the budget and labels."""
    names = {f.name for cls in (TrialConfig, EnvConfig, MarketConfig) for f in dataclasses.fields(cls)}
    return tuple(sorted(names - set(BUDGET) - {"algorithm", "variant", "defence", "env", "market"}))


def _header(where: str, data: dict[str, Any], stem: str) -> dict[str, Any]:
    """The top-level scalars of a design file, checked."""
    unknown = sorted(set(data) - set(TOP_KEYS))
    if unknown:
        raise _fail(where, unknown[0], data[unknown[0]], f"a known key: one of {', '.join(TOP_KEYS)}")
    head = {"name": data.get("name", stem), "kind": data.get("kind", "study"), "engine": data.get("engine"),
            "description": data.get("description", ""), "seeds": data.get("seeds"),
            "baseline_twins": data.get("baseline_twins", False), "references": data.get("references", [])}
    checks = [
        ("name", isinstance(head["name"], str) and head["name"].strip() != "", "a non-empty string"),
        ("kind", head["kind"] in KINDS, f"one of {', '.join(map(repr, KINDS))}"),
        ("engine", head["engine"] is None or head["engine"] in ENGINES, f"one of {', '.join(map(repr, ENGINES))}"),
        ("description", isinstance(head["description"], str), "a string"),
        (
            "seeds",
            isinstance(head["seeds"], list)
            and bool(head["seeds"])
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in head["seeds"])
            and len(set(head["seeds"])) == len(head["seeds"]),
            "a non-empty list of distinct integers >= 0",
        ),
        ("baseline_twins", isinstance(head["baseline_twins"], bool), "true or false"),
        (
            "references",
            isinstance(head["references"], list) and all(r in REFERENCE_POLICIES for r in head["references"]),
            f"a list of reference policies from {', '.join(REFERENCE_POLICIES)}",
        ),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise _fail(where, key, head[key], expected)
    return head


def _preregistration(where: str, data: dict[str, Any], source: Path, kind: str) -> Path | None:
    value = data.get("preregistration")
    if value is None:
        if kind == "study":
            raise _fail(
                where,
                "preregistration",
                None,
                "the path of the study's pre-registration file, relative to "
                "this file (kind = 'smoke' needs none: a check that it runs, not a result)",
            )
        return None
    if not isinstance(value, str) or not (source.parent / value).is_file():
        raise _fail(where, "preregistration", value, f"an existing file, relative to {source.parent}")
    return (source.parent / value).resolve()


def _blocks(where: str, data: dict[str, Any]) -> tuple[dict[str, list[Any]], ...]:
    """``[[blocks]]``: an array of tables of factor levels, each checked like ``[factors]``."""
    blocks = data.get("blocks", [])
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise _fail(where, "blocks", blocks, "an array of tables ([[blocks]]) of factor levels")
    return tuple(_table(where, {"factors": b}, "factors", None) for b in blocks)


def _presets(where: str, data: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """``[presets.FACTOR.LEVEL]``: tables of trial settings, each checked like ``[market]``."""
    presets = data.get("presets", {})
    if not isinstance(presets, dict) or not all(isinstance(t, dict) for t in presets.values()):
        raise _fail(where, "presets", presets, "tables [presets.FACTOR.LEVEL] of settings")
    return {
        factor: {
            level: _table(where, {f"presets.{factor}.{level}": settings}, f"presets.{factor}.{level}", _market_keys())
            for level, settings in table.items()
        }
        for factor, table in presets.items()
    }


def load_plan(path: str | Path) -> StudyPlan:
    """Read and check the design file at ``path`` (see the module's docstring for the format).

    Checks the file's form (keys, types, levels, seeds, references, the pre-registration exists);
    :func:`check_trials` checks each trial's values against the study's trainable. Raises
    :class:`DesignFileError` with one line."""
    source = Path(path)
    where = str(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DesignFileError(
            f"{where}: no such design file: give a path to a .toml file or a built-in "
            f"design ({', '.join(sorted(builtin_names()))})"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise DesignFileError(f"{where}: not valid TOML ({err})") from None
    head = _header(where, data, source.stem)
    factors = _table(where, data, "factors", None)
    budget, market = _table(where, data, "budget", BUDGET), _table(where, data, "market", _market_keys())
    twice = sorted(set(factors) & (set(budget) | set(market)))
    if twice:
        raise _fail(where, f"factors.{twice[0]}", factors[twice[0]], "a name not also set in [budget] or [market]")
    locations = {
        **{k: f"factors.{k}" for k in factors},
        **{k: f"budget.{k}" for k in budget},
        **{k: f"market.{k}" for k in market},
    }
    try:
        spec = StudyDesign(factors={k: tuple(v) for k, v in factors.items()}, seeds=tuple(head["seeds"]),
                           settings={**budget, **market}, baseline_twins=head["baseline_twins"],
                           references=tuple(head["references"]),
                           blocks=tuple({k: tuple(v) for k, v in b.items()} for b in _blocks(where, data)),
                           presets=_presets(where, data))
    except ConfigError as err:
        raise DesignFileError(f"{where}: {err.problems[0].removeprefix('StudyDesign.')}") from None
    return StudyPlan(
        name=head["name"],
        design=spec,
        kind=head["kind"],
        engine=head["engine"],
        preregistration=_preregistration(where, data, source, head["kind"]),
        source=source,
        description=head["description"],
        locations=locations,
    )


def _located(plan: StudyPlan, line: str) -> str:
    """``Owner.field = value: expected ...`` -> ``FILE: factors.field = value: expected ...``."""
    owner_field, _, rest = line.partition(" = ")
    name = owner_field.rpartition(".")[2]
    where = str(plan.source) if plan.source else plan.name
    return f"{where}: {plan.locations[name]} = {rest}" if name in plan.locations else f"{where}: {line}"


def check_trials(plan: StudyPlan) -> None:
    """Check every distinct configuration of ``plan`` as the study's trainable will read it
    (:meth:`TrialConfig.from_mapping`): unknown keys and bad values raise :class:`DesignFileError`
    with one line naming the key where the file declares it."""
    where = str(plan.source) if plan.source else plan.name
    known = set(_market_keys()) | set(BUDGET) | {"algorithm", "variant", "defence"}
    unknown = sorted(set(plan.design.factors) - known)
    if unknown:
        raise DesignFileError(
            f"{where}: factors.{unknown[0]}: not a trial setting the study's trainable reads "
            f"(known: {', '.join(sorted(known))}); or pass --trainable for your own"
        )
    for config in {json.dumps(t.config, sort_keys=True): t.config for t in design(plan.design)}.values():
        try:
            TrialConfig.from_mapping(config)
        except ConfigError as err:
            more = f" (and {len(err.problems) - 1} more)" if len(err.problems) > 1 else ""
            raise DesignFileError(_located(plan, err.problems[0]) + more) from None


def builtin_names() -> list[str]:
    """Names of the built-in designs (the stems of ``builtin/*.toml`` without ``.prereg``)."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml") if not p.stem.endswith(".prereg"))


def resolve(name_or_file: str | Path) -> StudyPlan:
    """A built-in design by name, or a design file by path (anything ending in ``.toml`` or that exists)."""
    text = str(name_or_file)
    if text in builtin_names():
        return BUILTIN[text]
    if text.endswith(".toml") or Path(text).exists():
        return load_plan(text)
    raise DesignFileError(
        f"--design {text}: not a built-in design ({', '.join(builtin_names())}) nor a .toml design file"
    )


BUILTIN: dict[str, StudyPlan] = {name: load_plan(BUILTIN_DIR / f"{name}.toml") for name in builtin_names()}
"""The built-in designs as plans, read from their files."""

DESIGNS: dict[str, StudyDesign] = {name: plan.design for name, plan in BUILTIN.items()}
"""The built-in designs (``phantom sweep --design NAME``), read from ``builtin/NAME.toml``:

``factorial`` (the 192-cell design x 3 seeds at the thesis's budget, jax engine), ``as-written`` and
``as-run`` (the thesis's protocol in the market as written and as its sweep evidently ran),
``responsive`` (our price-responsive extension), ``sales`` (the market that pays for sales: four
defence arms x alpha0, Model reference, section 12), ``full`` (the factorial at 8192 steps, sb3) and
``smoke`` (26 trials, a check that everything runs). Each file's comments say more."""

FACTORS: dict[str, tuple[Any, ...]] = {name: tuple(levels) for name, levels in DESIGNS["factorial"].factors.items()}
"""The published factorial design: 4 x 4 x 3 x 2 x 2 = 192 configurations (from ``builtin/factorial.toml``)."""


def shrunk(plan: StudyPlan, levels: Mapping[str, Any], seeds: tuple[int, ...], budget: Mapping[str, int]) -> StudyPlan:
    """A smoke copy of ``plan`` (a check that it runs, never a result): each factor named in ``levels``
    keeps only the listed levels it has, ``seeds`` replace the seeds and ``budget`` entries the budget
    (timesteps, eval_episodes, ...); no references and no pre-registration. Raises
    :class:`DesignFileError` when a factor would keep no level."""
    factors = {name: tuple(v for v in values if name not in levels or v in levels[name])
               for name, values in plan.design.factors.items()}
    empty = [name for name, values in factors.items() if not values]
    if empty:
        raise DesignFileError(problem("shrunk", "levels", dict(levels), f"levels {empty[0]} of the design has "
                                      f"({list(plan.design.factors[empty[0]])})"))
    spec = dataclasses.replace(plan.design, factors=factors, seeds=tuple(seeds), references=(),
                               settings={**plan.design.settings, **budget})
    return dataclasses.replace(plan, name=f"{plan.name}-shrunk", design=spec, kind="smoke", preregistration=None,
                               description=f"a shrunk copy of {plan.name} (a check that it runs, not a result)")
