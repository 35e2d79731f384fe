"""Interleaved timing rounds and their summaries: what ``phantom bench`` reports on a shared machine.

On a machine shared with other work, a figure depends on the load while it was measured. So the
variants of one comparison are measured in rounds, each round running every variant once in
turn (round-robin: A, B, C, A, B, C, ... never all of A then all of B), a ratio is formed within
each round (both figures under the same load) and then summarised, and the load average before
and after is recorded beside the figures. A summary is the median and the range (min, max) over
the rounds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from phantom_lib._validation import check, integer


def interleaved(variants: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Call every variant once per round, in the mapping's order, ``rounds`` times.

    Returns:
        each variant's figures (whatever its callable returns, e.g. steps/s), one per round in order.
    """
    check("interleaved", integer("interleaved", "rounds", rounds, low=1))
    figures: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, measure in variants.items():
            figures[name].append(float(measure()))
    return figures


def spread(values: Sequence[float]) -> dict[str, float]:
    """``{"median", "min", "max", "rounds"}`` of per-round figures (at least one)."""
    if len(values) == 0:
        raise ValueError("spread: values = []: expected the figures of at least one round")
    x = np.asarray(values, dtype=float)
    return {"median": float(np.median(x)), "min": float(x.min()), "max": float(x.max()), "rounds": int(x.size)}


def round_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> dict[str, float]:
    """The ratio numerator / denominator formed within each round, then :func:`spread` over rounds.

    Both sequences hold one figure per round of the same interleaved run (equal lengths).
    """
    if len(numerator) != len(denominator):
        raise ValueError(f"round_ratios: {len(numerator)} and {len(denominator)} rounds: "
                         "expected figures of the same rounds (equal lengths)")
    return spread(np.asarray(numerator, dtype=float) / np.asarray(denominator, dtype=float))


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages (``os.getloadavg``); NaNs where the OS has none."""
    try:
        return [float(v) for v in os.getloadavg()]
    except OSError:
        return [float("nan")] * 3


def with_load(measure: Callable[[], Any]) -> tuple[Any, dict[str, list[float]]]:
    """``measure()`` and the load averages before and after it: ``(result, {"before", "after"})``."""
    before = load_average()
    result = measure()
    return result, {"before": before, "after": load_average()}

