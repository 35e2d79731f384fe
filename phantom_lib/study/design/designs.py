"""The study's designs: which trials a sweep runs and how one trial is configured (Model reference, section 7).

* :class:`StudyDesign`: factors and their levels, seeds, fixed settings, baseline twins and
  reference policies (the built-in designs are TOML files read by :mod:`phantom_lib.study.design.files`).
* :func:`design` lists every :class:`Trial` (a configuration dict and a seed) of a design.
* :class:`TrialConfig` is one trial's configuration as a value: the learner or reference policy,
  its budgets, and the :class:`~phantom_lib.sim.EnvConfig` it trains in (the market's data source
  included). A trial's dict is flat (``alpha0``, ``n_products``, ``data_source``, ...):
  :meth:`TrialConfig.from_mapping` routes each key to the trial or to its environment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from phantom_lib._validation import (
    Boolean,
    Choice,
    Each,
    InstanceOf,
    Integer,
    Real,
    Rule,
    Satisfies,
    Validated,
)
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.market import MarketConfig

SB3_ALGORITHMS = ("ppo", "a2c", "dqn")
"""Learners trained with stable-baselines3."""

LEARNERS = (*SB3_ALGORITHMS, "qtable")
"""Every learner of the study (``qtable``: our tabular Q-learner)."""

REFERENCE_POLICIES = ("static", "surge", "elasticity", "random", "best_fixed")
"""The non-learning anchors evaluated beside the learners (:mod:`phantom_lib.study.sb3.policies`)."""

VARIANTS = ("defended", "baseline", "reference")
"""Labels of a trial: the design cell as given, its baseline twin, or a reference policy."""

EVALUATIONS = ("market", "training_env")
"""Where a trial's policy is scored (:attr:`TrialConfig.evaluation`)."""

STRESS_MIN = 0.15
"""Stress shares are alpha0 -/+ max(eps_alpha, STRESS_MIN)."""

def _unknown_block(spec: StudyDesign) -> list[str]:
    """Names a design's blocks set that are not its factors."""
    return sorted({k for b in spec.blocks for k in b} - set(spec.factors))


def _unlevelled(spec: StudyDesign) -> list[str]:
    """``factor=level`` pairs (over the factors and the blocks) that a preset table has no settings for."""
    return sorted(f"{f}={lv!r}" for f, table in spec.presets.items() if f in spec.factors
                  for lv in {*spec.factors[f], *(x for b in spec.blocks for x in b.get(f, ()))} if lv not in table)


@dataclass(frozen=True)
class StudyDesign(Validated):
    """What one sweep runs.

    Attributes:
        factors: factor name -> levels; the design is their full cross product.
        seeds: training seeds; every configuration runs once per seed.
        settings: fixed settings added to every trial's config (budgets, env sizes).
        baseline_twins: add, for every design cell, its baseline twin (:data:`BASELINE`
            applied, ``variant="baseline"``) once per distinct twin and seed; design cells are
            then labelled ``variant="defended"``.
        references: reference policies (:data:`REFERENCE_POLICIES`) evaluated, once
            per seed, at every distinct (alpha0, lambda_coi, action_levels, ...) cell of the
            design without training (``variant="reference"``, eps_alpha 0, K 1), preset factors
            left out (a reference is not defended).
        blocks: sub-designs whose union is the design: each block replaces the levels of some
            factors (e.g. fewer alpha0 levels for one algorithm); none = the one full product.
        presets: factor -> level -> settings that level stands for (e.g. ``defence`` -> ``robust``
            -> {eps_alpha 0.2, lambda_coi 0.15}): a cell with that level gets the settings (over the
            fixed ones) and keeps the level as a label.
    """

    factors: Mapping[str, Sequence[Any]]
    seeds: tuple[int, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    baseline_twins: bool = False
    references: tuple[str, ...] = ()
    blocks: tuple[Mapping[str, Sequence[Any]], ...] = ()
    presets: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)

    _parameter_constraints = {
        "factors": (
            Satisfies(
                lambda f: isinstance(f, Mapping) and bool(f) and all(len(v) > 0 for v in f.values()),
                "at least one factor, each with at least one level",
                bad={},
            ),
            Rule(
                lambda d: not (d.baseline_twins or d.references) or "algorithm" in d.factors,
                "an 'algorithm' factor (baseline_twins and references need one)",
            ),
        ),
        "seeds": (Each(Integer(low=0)),),
        "settings": (
            InstanceOf(Mapping, "a mapping of setting name -> value"),
            Rule(
                lambda d: not set(d.factors) & set(d.settings),
                lambda d: f"no name that is also a factor (both: {sorted(set(d.factors) & set(d.settings))})",
            ),
        ),
        "baseline_twins": (Boolean(),),
        "references": (Each(Choice(REFERENCE_POLICIES), min_length=0),),
        "blocks": (
            InstanceOf(tuple, "a tuple of blocks (factor -> levels)"),
            Rule(
                lambda d: not _unknown_block(d) and all(all(len(v) > 0 for v in b.values()) for b in d.blocks),
                lambda d: "blocks that set levels of declared factors only, each with >= 1 level "
                          f"(not factors: {_unknown_block(d)})",
            ),
        ),
        "presets": (
            InstanceOf(Mapping, "a mapping factor -> level -> settings"),
            Rule(
                lambda d: set(d.presets) <= set(d.factors) and not _unlevelled(d),
                lambda d: f"presets of declared factors with settings for every level (missing: {_unlevelled(d)})",
            ),
        ),
    }


@dataclass(frozen=True)
class Trial:
    """One run of the design: a configuration and a seed."""

    config: dict[str, Any]
    seed: int

    @property
    def trial_id(self) -> str:
        """Stable, readable id, e.g. ``ppo-action_levels=5-alpha0=0.1-...-seed=0-3f2a1c``: the algorithm, then
        whole ``key=value`` words in key order while they fit in :data:`ID_WORDS_CHARS` characters (never
        cut mid-word), the seed and a hash of the whole config and seed (which keeps ids unique)."""
        text = json.dumps({"config": self.config, "seed": self.seed}, sort_keys=True)
        digest = hashlib.sha1(text.encode()).hexdigest()[:6]
        words = [
            re.sub(r"[^A-Za-z0-9._=]+", "_", f"{k}={v}") for k, v in sorted(self.config.items()) if k != "algorithm"
        ]
        readable = re.sub(r"[^A-Za-z0-9._=]+", "_", str(self.config.get("algorithm", "trial")))
        for word in words:
            if len(readable) + 1 + len(word) > ID_WORDS_CHARS:
                break
            readable += f"-{word}"
        return f"{readable}-seed={self.seed}-{digest}"


ID_WORDS_CHARS = 120
"""Longest readable part of a trial id (a trial file's name), before the seed and the hash."""


BASELINE: dict[str, Any] = {"lambda_coi": 0.0, "eps_alpha": 0.0, "n_candidates": 1}
"""Model reference, section 6: the baseline (no defence) is lambda_coi 0, eps_alpha 0, K 1."""


def _levels(spec: StudyDesign) -> list[dict[str, Any]]:
    """The factor levels of every design cell: the product of each block's levels (the union of the
    blocks, in order, repeats dropped), or of the factors' levels without blocks."""
    names = list(spec.factors)
    out: dict[str, dict[str, Any]] = {}
    for block in spec.blocks or ({},):
        levels = {**dict(spec.factors), **dict(block)}
        for values in itertools.product(*(levels[n] for n in names)):
            cell = dict(zip(names, values))
            out.setdefault(json.dumps(cell, sort_keys=True), cell)
    return list(out.values())


def _with_presets(spec: StudyDesign, levels: Mapping[str, Any]) -> dict[str, Any]:
    """A cell's config: the fixed settings, each preset level's settings, then the levels."""
    presets = {k: v for name, table in spec.presets.items() for k, v in table[levels[name]].items()}
    return {**dict(spec.settings), **presets, **levels}


def _cells(spec: StudyDesign) -> list[dict[str, Any]]:
    """Every configuration of the profile (design cells, then twins, then references), no seed."""
    levels = _levels(spec)
    cells = [_with_presets(spec, cell) for cell in levels]
    if not (spec.baseline_twins or spec.references):
        return cells
    extra: list[dict[str, Any]] = []
    if spec.baseline_twins:
        extra += [{**cell, **BASELINE, "variant": "baseline"} for cell in cells]
    plain = [{**dict(spec.settings), **{k: v for k, v in cell.items() if k not in spec.presets}} for cell in levels]
    extra += [{**cell, "algorithm": name, "eps_alpha": 0.0, "n_candidates": 1, "variant": "reference"}
              for name in spec.references for cell in plain]
    unique = {json.dumps(c, sort_keys=True): c for c in extra}  # twins and references repeat across cells
    return [{**cell, "variant": "defended"} for cell in cells] + list(unique.values())


def design(spec: StudyDesign) -> list[Trial]:
    """Every configuration x seed, seed by seed (a partial sweep holds whole seeds first).

    Configurations: every factor combination with the fixed settings merged in, plus the
    baseline twins and reference policies the design asks for.
    """
    cells = _cells(spec)
    return [Trial(config, seed) for seed in spec.seeds for config in cells]


@dataclass(frozen=True)
class TrialConfig(Validated):
    """One trial of the study (the ``config`` the trainable receives, as a value).

    Attributes:
        algorithm: a learner (:data:`LEARNERS`) or a reference policy (:data:`REFERENCE_POLICIES`).
        env: the training environment (:class:`~phantom_lib.sim.EnvConfig`: alpha0, eps_alpha,
            lambda_coi, action_levels, K, max_steps, backend, and the market with N, M and its
            data source).
        variant: ``defended`` (the config as given), ``baseline`` (lambda_coi 0, eps_alpha 0, K 1)
            or ``reference`` (a non-learning policy); a label for the analysis, checked against
            the values.
        timesteps: training budget, env steps (ignored by reference policies).
        eval_episodes: evaluation episodes at each of the three shares (>= 1).
        curve_points: slices of the training steps in the learning curve (>= 1).
        search_episodes: episodes per action when ``best_fixed`` searches its constant action.
        reward_scale: training rewards are multiplied by this (1 / B = 1 / (p_low * 100) by
            default: the same optimum, rewards of order one for the value networks); metrics are
            always reported in env units.
        evaluation: where policies are scored: ``"market"`` (the default: the market as it is at
            each evaluated share, K = 1, no adversary) or ``"training_env"`` (the trial's own env,
            its adversary included, as the thesis's sweep evidently scored them: Model reference,
            section 10).
        defence: the design's defence arm (a label for the analysis, e.g. ``"robust"``; the
            settings it stands for are in the config itself), ``""`` when the design names none.
    """

    algorithm: str
    env: EnvConfig = field(default_factory=EnvConfig)
    variant: str = "defended"
    defence: str = ""
    timesteps: int = 2048
    eval_episodes: int = 1
    curve_points: int = 10
    search_episodes: int = 1
    reward_scale: float = 1e-3
    evaluation: str = "market"

    _parameter_constraints = {
        "algorithm": (Choice(LEARNERS + REFERENCE_POLICIES),),
        "env": (InstanceOf(EnvConfig, "an EnvConfig"),),
        "defence": (InstanceOf(str, "a label (text; '' when the design has no defence factor)"),),
        "variant": (
            Choice(VARIANTS),
            Rule(
                lambda t: (t.variant == "reference") == (t.algorithm in REFERENCE_POLICIES),
                f"'reference' exactly when algorithm is a reference policy {REFERENCE_POLICIES} (algorithm is "
                f"{{algorithm!r}})",
            ),
            Rule(
                lambda t: (
                    t.variant != "baseline" or (t.env.lambda_coi, t.env.eps_alpha, t.env.n_candidates) == (0, 0, 1)
                ),
                "'baseline' only with lambda_coi 0, eps_alpha 0 and n_candidates 1 (Model reference, section 6; got "
                "{env.lambda_coi}, {env.eps_alpha}, {env.n_candidates})",
            ),
        ),
        "timesteps": (
            Integer(low=1),
            Rule(
                lambda t: t.algorithm not in LEARNERS or t.timesteps >= t.curve_points,
                ">= curve_points ({curve_points})",
            ),
        ),
        "eval_episodes": (Integer(low=1),),
        "curve_points": (Integer(low=1),),
        "search_episodes": (Integer(low=1),),
        "reward_scale": (Real(low=0, low_open=True),),
        "evaluation": (Choice(EVALUATIONS),),
    }

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> TrialConfig:
        """Build from a study's flat config dict.

        Keys that are fields of this class go to the trial; :class:`EnvConfig` and
        :class:`~phantom_lib.sim.MarketConfig` fields go to :attr:`env`; any other key is an
        error that names it and lists the known ones.
        """
        own = {f.name for f in dataclasses.fields(cls)} - {"env"}
        env_names = (
            {f.name for f in dataclasses.fields(EnvConfig)} | {f.name for f in dataclasses.fields(MarketConfig)}
        ) - {"market"}
        unknown = sorted(set(config) - own - env_names)
        if unknown:
            raise ValueError(f"unknown trial config key(s) {unknown}; known: {sorted(own | env_names)}")
        if "algorithm" not in config:
            raise ValueError("trial config needs 'algorithm'")
        env = EnvConfig().replace(**{k: v for k, v in config.items() if k in env_names})
        return cls(env=env, **{k: v for k, v in config.items() if k in own})

    @property
    def stress_shares(self) -> tuple[float, float]:
        """alpha0 -/+ max(eps_alpha, 0.15), clipped to [0, 1]."""
        width = max(self.env.eps_alpha, STRESS_MIN)
        return max(0.0, self.env.alpha0 - width), min(1.0, self.env.alpha0 + width)
