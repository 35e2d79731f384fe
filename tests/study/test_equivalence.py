"""Two one-sided tests against hand-computed cases, and the interval form agreeing with both p-value forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phantom_lib._validation import ConfigError
from phantom_lib.study.analysis import equivalence as eq


def test_normal_tost_by_hand_is_equivalent():
    # z_lower = (0.2 + 1) / 0.3 = 4, z_upper = (0.2 - 1) / 0.3 = -8/3; Phi(-4) = 3.1671e-5, Phi(-8/3) = 3.8304e-3
    out = eq.tost(0.2, 0.3, margin=1.0)
    assert (out.p_lower, out.p_upper) == pytest.approx((3.1671e-5, 3.8304e-3), rel=1e-4)
    assert (out.low, out.high) == pytest.approx((0.2 - 1.644854 * 0.3, 0.2 + 1.644854 * 0.3), rel=1e-6)
    assert out.verdict == eq.EQUIVALENT and out.words("%") == "equivalent within ±1 %"


def test_t_tost_with_two_degrees_of_freedom_by_hand_is_inconclusive():
    # with 2 df the t law has F(t) = 1/2 + t / (2 sqrt(2 + t^2)); t_lower = 3, t_upper = -1
    out = eq.tost(0.5, 0.5, margin=1.0, df=2)
    assert out.p_lower == pytest.approx(0.5 - 3 / (2 * math.sqrt(11)), rel=1e-9)  # 0.0477: below 5 %
    assert out.p_upper == pytest.approx(0.5 - 1 / (2 * math.sqrt(3)), rel=1e-9)  # 0.2113: not
    t95 = math.sqrt(1.62 / 0.19)  # F(t) = 0.95 <=> t / sqrt(2 + t^2) = 0.9
    assert (out.low, out.high) == pytest.approx((0.5 - 0.5 * t95, 0.5 + 0.5 * t95), rel=1e-9)
    assert out.verdict == eq.INCONCLUSIVE == out.words("%")


def test_an_effect_beyond_the_margin_is_not_equivalent():
    out = eq.tost(-3.0, 0.5, margin=1.0)  # interval -3 -/+ 0.82 lies below -1
    assert out.p_lower == pytest.approx(1 - 3.1671e-5, rel=1e-6) and out.verdict == eq.NOT_EQUIVALENT


def test_bootstrap_p_values_are_shares_of_draws_beyond_each_margin():
    out = eq.tost_draws(np.array([-2.0, -1.0, 0.0, 0.5, 2.0]), margin=1.0, estimate=0.1)
    assert (out.estimate, out.p_lower, out.p_upper) == (0.1, 0.4, 0.2)
    assert out.verdict == eq.INCONCLUSIVE
    inside = eq.tost_draws(np.linspace(-0.5, 0.5, 101), margin=1.0)
    assert (inside.p_lower, inside.p_upper, inside.verdict) == (0.0, 0.0, eq.EQUIVALENT)
    assert (inside.low, inside.high) == pytest.approx((-0.45, 0.45))


@pytest.mark.parametrize("centre", np.linspace(-2.5, 2.5, 41))
def test_the_ninety_percent_interval_inside_the_margin_is_the_five_percent_tost(centre):
    normal = eq.tost(centre, 0.4, margin=1.0)
    assert eq.tost_interval(normal.low, normal.high, 1.0) == normal.verdict
    draws = np.random.default_rng(7).normal(centre, 0.4, 20_001)
    boot = eq.tost_draws(draws, margin=1.0)
    # the quantile interval and the shares beyond the margin decide alike (up to one draw at the edge)
    if min(abs(abs(boot.low) - 1.0), abs(abs(boot.high) - 1.0)) > 1e-3:
        assert eq.tost_interval(boot.low, boot.high, 1.0) == boot.verdict


def test_bad_input_names_the_field():
    with pytest.raises(ConfigError, match=r"tost.margin = 0"):
        eq.tost(0.0, 1.0, margin=0)
    with pytest.raises(ConfigError, match=r"tost.se = -1"):
        eq.tost(0.0, -1.0, margin=1)
    with pytest.raises(ConfigError, match=r"tost_draws.draws"):
        eq.tost_draws(np.array([np.nan, 1.0]), margin=1)
    with pytest.raises(ConfigError, match=r"Margin.reason"):
        eq.Margin(1.0, "%", " ")
    assert str(eq.Margin(1.0, "% of revenue", "why")) == "±1 % of revenue"
