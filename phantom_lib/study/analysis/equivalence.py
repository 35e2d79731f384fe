"""Equivalence tests for "no effect" claims: two one-sided tests (TOST) against a declared margin.

A null result ("the defence costs nothing") is not shown by an interval that contains zero: a small
study gives wide intervals that contain zero easily. It is shown by rejecting both "the effect is at
most -m" and "the effect is at least +m" for a margin m declared, with its reason, before looking:

* ``p_lower``: the p-value of H0 "effect <= -m" against "effect > -m";
* ``p_upper``: the p-value of H0 "effect >= +m" against "effect < +m".

Both below ``alpha`` means **equivalent within +/-m**; that is the same as the two-sided
``1 - 2 alpha`` interval (90 % at the usual 5 %) lying inside ``[-m, m]``. When the interval lies
wholly outside the margin (one of the p-values above ``1 - alpha``) the effect is shown to exceed
it: **not equivalent**. Anything between is **inconclusive**: the study cannot tell.

:func:`tost` works from an estimate, its standard error and degrees of freedom (a t or normal
statistic); :func:`tost_draws` from bootstrap draws of the estimate (p-values are the shares of
draws beyond each margin, the interval their percentile interval); :func:`tost_interval` decides
from a ``1 - 2 alpha`` interval alone, when that is all a chapter publishes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from phantom_lib._validation import (
    InstanceOf,
    Real,
    Text,
    Validated,
    check,
    real,
    relation,
)

EQUIVALENT, NOT_EQUIVALENT, INCONCLUSIVE = "equivalent", "not equivalent", "inconclusive"
ALPHA = 0.05
"""The level of each one-sided test (the usual 5 %: a 90 % interval)."""


@dataclass(frozen=True)
class Margin(Validated):
    """An equivalence margin (``+/- value``, in ``unit``) and why it is that wide."""

    value: float
    unit: str
    reason: str

    _parameter_constraints = {
        "value": (Real(low=0, low_open=True),),
        "unit": (InstanceOf(str, "a unit name (may be empty)"),),
        "reason": (Text("a sentence saying why this margin"),),
    }

    def __str__(self) -> str:
        return f"±{self.value:g} {self.unit}".rstrip()


@dataclass(frozen=True)
class Equivalence:
    """The outcome of a TOST: the estimate, the ``1 - 2 alpha`` interval, both one-sided p-values."""

    estimate: float
    low: float
    high: float
    margin: float
    p_lower: float
    p_upper: float
    alpha: float = ALPHA

    @property
    def verdict(self) -> str:
        """:data:`EQUIVALENT`, :data:`NOT_EQUIVALENT` or :data:`INCONCLUSIVE` (see the module doc)."""
        if max(self.p_lower, self.p_upper) < self.alpha:
            return EQUIVALENT
        if max(self.p_lower, self.p_upper) > 1 - self.alpha:
            return NOT_EQUIVALENT
        return INCONCLUSIVE

    def words(self, unit: str = "") -> str:
        """The verdict as the page writes it: "equivalent within ±1 %", "not equivalent", "inconclusive"."""
        return f"{EQUIVALENT} within ±{self.margin:g} {unit}".rstrip() if self.verdict == EQUIVALENT else self.verdict


def _check(margin: float, alpha: float) -> None:
    check("tost", real("tost", "margin", margin, low=0, low_open=True),
          real("tost", "alpha", alpha, low=0, high=0.5, low_open=True, high_open=True))


def tost(estimate: float, se: float, margin: float, df: float = math.inf, alpha: float = ALPHA) -> Equivalence:
    """TOST on an estimate with standard error ``se`` and ``df`` degrees of freedom (``inf``: normal).

    ``p_lower = 1 - T_df((estimate + margin) / se)``, ``p_upper = T_df((estimate - margin) / se)``;
    the interval is ``estimate -/+ t_{1 - alpha, df} se``.
    """
    _check(margin, alpha)
    check("tost", real("tost", "se", se, low=0, low_open=True),
          relation("tost", "df", df, df > 0, "degrees of freedom > 0 (math.inf for a normal statistic)"))
    law = stats.norm if math.isinf(df) else stats.t(df)
    half = float(law.ppf(1 - alpha)) * se
    return Equivalence(float(estimate), estimate - half, estimate + half, margin,
                       float(law.sf((estimate + margin) / se)), float(law.cdf((estimate - margin) / se)), alpha)


def tost_draws(draws: np.ndarray, margin: float, estimate: float | None = None, alpha: float = ALPHA) -> Equivalence:
    """TOST on bootstrap draws of an estimate (shape ``(n_boot,)``).

    ``p_lower`` is the share of draws at or below ``-margin``, ``p_upper`` the share at or above
    ``+margin``; the interval is the draws' ``alpha`` and ``1 - alpha`` quantiles. ``estimate``
    defaults to the draws' mean (pass the full-sample estimate when you have it).
    """
    _check(margin, alpha)
    draws = np.asarray(draws, dtype=float)
    check("tost_draws", relation("tost_draws", "draws", f"array of shape {draws.shape}",
                                 draws.ndim == 1 and len(draws) >= 2 and bool(np.isfinite(draws).all()),
                                 "at least two finite bootstrap draws in a 1-d array"))
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    centre = float(draws.mean()) if estimate is None else float(estimate)
    return Equivalence(centre, float(low), float(high), margin,
                       float((draws <= -margin).mean()), float((draws >= margin).mean()), alpha)


def tost_interval(low: float, high: float, margin: float, alpha: float = ALPHA) -> str:
    """The verdict from a ``1 - 2 alpha`` interval ``[low, high]`` alone (no p-values needed).

    Equivalent when the interval lies inside ``(-margin, margin)``, not equivalent when it lies wholly
    above ``margin`` or below ``-margin``, inconclusive otherwise: the same verdict :func:`tost` and
    :func:`tost_draws` give when their interval is this one.
    """
    _check(margin, alpha)
    check("tost_interval", relation("tost_interval", "low", low, low <= high, f"a bound at most high = {high}"))
    if -margin < low and high < margin:
        return EQUIVALENT
    if low > margin or high < -margin:
        return NOT_EQUIVALENT
    return INCONCLUSIVE
