"""What a re-run changed: the same design's trials in two runs, matched by their configuration.

Trial ids may differ between runs of one design (their wording changed with the code), so trials
are matched by what defines them: the factorial's factors, the variant and the seed
(:data:`MATCH_KEYS`), and any other factor either run's design names (:func:`match_keys`; the
sales study's ``defence`` and ``agents_buy``). A trial is *identical* when every evaluation metric both runs recorded
(:data:`~phantom_lib.study.common.EVAL_METRICS`) is equal bit for bit, and its *largest change* is
the largest relative change over those metrics; timings are not compared. :func:`summary` gives
the few numbers a chapter states about a re-run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from phantom_lib.study.analysis.estimands import FACTOR_NAMES, SweepResults
from phantom_lib.study.common import EVAL_METRICS

MATCH_KEYS = (*FACTOR_NAMES, "variant", "seed")
"""What identifies one trial of a factorial design across runs."""


def match_keys(before: SweepResults, after: SweepResults) -> tuple[str, ...]:
    """:data:`MATCH_KEYS` and the other factors either run's design names (from its provenance)."""
    named = [f for r in (before, after) for f in r.provenance.get("design", {}).get("factors", {})]
    return MATCH_KEYS + tuple(dict.fromkeys(f for f in named if f not in MATCH_KEYS))


def _keyed(results: SweepResults, which: str, keys: tuple[str, ...]) -> pd.DataFrame:
    trials = results.trials
    missing = [k for k in keys if k not in trials]
    if missing:
        raise ValueError(f"the {which} run's trials lack {missing}: both runs must be sweeps of a factorial design")
    twice = trials.duplicated(list(keys))
    if twice.any():
        example = trials.loc[twice, list(keys)].iloc[0].to_dict()
        raise ValueError(f"the {which} run holds two trials with the same configuration ({example}): "
                         "pass runs of a design whose trials differ in factors, variant or seed")
    return trials.set_index(list(keys))


def matched_trials(before: SweepResults, after: SweepResults, metric: str = "revenue") -> pd.DataFrame:
    """Every trial of either run beside its match in the other.

    Args:
        before, after: the two runs (:func:`~phantom_lib.study.design.store.load_results`).
        metric: the evaluation metric shown (per step, in its own units).

    Returns:
        one row per configuration (:func:`match_keys` as columns): ``before`` and ``after`` (``metric``,
        NaN where that run lacks the trial), ``change_pct`` = 100 (after / before - 1), ``present``
        ("both", "before only", "after only"), ``identical`` (every shared evaluation metric equal;
        False unless present in both) and ``largest_change_pct``: the largest 100 |after - before| /
        |before| over the shared metrics (a metric at 0 before counts its absolute change; NaN
        unless present in both).
    """
    keys = match_keys(before, after)
    old, new = _keyed(before, "before", keys), _keyed(after, "after", keys)
    shared = [m for m in EVAL_METRICS if m in old and m in new]
    if metric not in shared:
        raise ValueError(f"metric {metric!r} is not recorded by both runs: choose one of {shared}")
    both = old.index.intersection(new.index)
    equal = pd.Series(False, index=old.index.union(new.index))
    largest = pd.Series(np.nan, index=equal.index)
    same, worst = np.ones(len(both), dtype=bool), np.zeros(len(both))
    for m in shared:
        a, b = old.loc[both, m].to_numpy(float), new.loc[both, m].to_numpy(float)
        equal_here = (a == b) | (np.isnan(a) & np.isnan(b))
        same &= equal_here
        change = np.where(equal_here, 0.0, 100.0 * np.abs(b - a) / np.where(a == 0, 1.0, np.abs(a)))
        worst = np.fmax(worst, np.where(np.isnan(change), np.inf, change))  # NaN on one side only: infinite
    equal[both], largest[both] = same, worst
    out = pd.DataFrame({"before": old[metric], "after": new[metric]}).reindex(equal.index)
    out["change_pct"] = 100.0 * (out["after"] / out["before"] - 1.0)
    out["present"] = np.select([out.index.isin(both), out.index.isin(old.index)], ["both", "before only"],
                               "after only")
    out["identical"] = equal
    out["largest_change_pct"] = largest
    return out.reset_index()


def summary(before: SweepResults, after: SweepResults, metric: str = "revenue") -> dict[str, float | int]:
    """What a re-run changed, in four numbers over the trials both runs hold (:func:`matched_trials`).

    Returns:
        ``n_matched``: trials in both runs; ``n_identical``: of them, bit-identical in every shared
        evaluation metric; ``change_median`` and ``change_max``: the median and largest
        ``|change_pct|`` of ``metric`` (%; NaN when no trial is matched).
    """
    both = matched_trials(before, after, metric)
    both = both[both["present"] == "both"]
    change = both["change_pct"].abs()
    return {"n_matched": len(both), "n_identical": int(both["identical"].sum()),
            "change_median": float(change.median()), "change_max": float(change.max())}
