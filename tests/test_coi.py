"""COI: closed forms, quadrature and Monte Carlo against independent facts (MODEL.md section 2)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from phantom_lib import coi


def expected_min(dist: coi.PriceDistribution, n: int) -> float:
    """E[p_(1)] = p_min + COI(n), the expected lowest of n quotes."""
    return dist.p_min + coi.coi_n(dist, n)

A, B = 10.0, 150.0
NS = [1, 2, 5, 10, 100, 1000]

CLOSED = {
    "uniform": coi.Uniform(A, B),
    "clipped exponential": coi.ClippedExponential(A, B, scale=40.0),
    "clipped exponential, heavy clipping": coi.ClippedExponential(A, B, scale=500.0),
    "beta(1, 3)": coi.Beta(A, B, 1.0, 3.0),
    "beta(3, 1)": coi.Beta(A, B, 3.0, 1.0),
    "beta(0.5, 1)": coi.Beta(A, B, 0.5, 1.0),
    "price grid": coi.DiscretePrices(A, B, [14.99, 29.99, 44.99, 99.0, 150.0], [1, 2, 3, 2, 1]),
    "atom + uniform": coi.AtomAtMin(coi.Uniform(A, B), 0.1),
    "atom + grid": coi.AtomAtMin(coi.DiscretePrices(A, B, [20.0, 40.0], [1, 1]), 0.25),
}
ALL = {**CLOSED, "beta(2, 5)": coi.Beta(A, B, 2.0, 5.0)}


@pytest.mark.parametrize("n", NS)
@pytest.mark.parametrize("name", list(CLOSED))
def test_closed_form_matches_quadrature(name: str, n: int):
    dist = CLOSED[name]
    closed = coi.coi_closed_form(dist, n)
    assert closed is not None
    assert coi.coi_quadrature(dist, n) == pytest.approx(closed, rel=1e-8, abs=0)


@pytest.mark.parametrize("n", [1, 6, 13, 139])
def test_uniform_by_hand(n: int):
    # (b - a)/(n + 1) with b - a = 140
    assert coi.coi_n(coi.Uniform(A, B), n) == pytest.approx(140 / (n + 1), rel=1e-15)
    assert expected_min(coi.Uniform(A, B), n) == pytest.approx(10 + 140 / (n + 1), rel=1e-15)


def test_uniform_erosion_by_hand():
    curve = coi.erosion_curve(coi.Uniform(A, B), [1, 3, 9, 99])
    np.testing.assert_allclose(curve["erosion"], [0.0, 0.5, 0.8, 0.98], atol=1e-14)
    np.testing.assert_allclose(curve["retained"], [1.0, 0.5, 0.2, 0.02], atol=1e-14)
    np.testing.assert_allclose(curve["coi"], [70.0, 35.0, 14.0, 1.4], rtol=1e-14)


def test_discrete_by_enumeration():
    # every n-tuple of quotes from three prices, weighted: an independent E[min]
    prices, weights = np.array([20.0, 35.0, 80.0]), np.array([0.2, 0.5, 0.3])
    dist = coi.DiscretePrices(A, B, prices, weights)
    for n in (1, 2, 3, 4):
        exact = sum(
            np.prod(weights[list(idx)]) * prices[list(idx)].min() for idx in itertools.product(range(3), repeat=n)
        )
        assert expected_min(dist, n) == pytest.approx(exact, rel=1e-12)
        assert coi.coi_quadrature(dist, n) == pytest.approx(exact - A, rel=1e-10)


def test_discrete_merges_duplicates_and_sorts():
    dist = coi.DiscretePrices(A, B, [40.0, 20.0, 40.0, 30.0], [1, 1, 1, 0])
    np.testing.assert_allclose(dist.prices, [20.0, 40.0])
    np.testing.assert_allclose(dist.weights, [1 / 3, 2 / 3])
    assert coi.coi_level(dist) == pytest.approx((20 + 80) / 3 - 10)


def test_beta_against_scipy_order_statistic_density():
    # E[min] = integral x n f(x) S(x)^(n-1) dx, with scipy.stats' Beta density: independent of sf-integration
    dist = coi.Beta(A, B, 2.0, 5.0)
    law = stats.beta(2.0, 5.0, loc=A, scale=B - A)
    for n in (1, 2, 7):
        expected, _ = integrate.quad(lambda x: x * n * law.pdf(x) * law.sf(x) ** (n - 1), A, B, epsrel=1e-12)
        assert expected_min(dist, n) == pytest.approx(expected, rel=1e-9)
    assert coi.coi_level(dist) == pytest.approx((B - A) * 2 / 7, rel=1e-12)


def test_beta_closed_forms_by_hand():
    # Beta(2, 1): integral (1 - x^2)^2 dx = 8/15; Beta(1, 2) mean = 1/3; Beta(1, 1) is the uniform
    assert coi.coi_closed_form(coi.Beta(0.0, 1.0, 2.0, 1.0), 2) == pytest.approx(8 / 15, rel=1e-14)
    assert coi.coi_closed_form(coi.Beta(0.0, 3.0, 1.0, 2.0), 1) == pytest.approx(1.0, rel=1e-14)
    assert coi.coi_closed_form(coi.Beta(A, B, 1.0, 1.0), 9) == pytest.approx(14.0, rel=1e-14)
    assert coi.coi_closed_form(coi.Beta(A, B, 2.0, 5.0), 3) is None


def test_clipped_exponential_by_hand():
    dist = coi.ClippedExponential(0.0, 1.0, scale=1.0)
    # n = 1: E[min(Exp(1), 1)] = 1 - e^-1; n = 2: integral of e^-2t on [0, 1] = (1 - e^-2)/2
    assert coi.coi_n(dist, 1) == pytest.approx(1 - math.exp(-1), rel=1e-14)
    assert coi.coi_n(dist, 2) == pytest.approx((1 - math.exp(-2)) / 2, rel=1e-14)
    assert dist.survival(1.0 - dist.p_min) == 0.0 and dist.survival(0.999 - dist.p_min) == pytest.approx(
        math.exp(-0.999)
    )


def test_atom_scales_the_base():
    dist = coi.AtomAtMin(coi.Uniform(A, B), 0.1)
    assert float(dist.survival(0.0)) == pytest.approx(0.9)
    assert coi.coi_n(dist, 1) == pytest.approx(63.0)
    assert coi.coi_n(dist, 2) == pytest.approx(0.81 * 140 / 3)


@pytest.mark.parametrize("n", [1, 3, 12])
@pytest.mark.parametrize("name", list(ALL))
def test_monte_carlo_within_four_standard_errors(name: str, n: int):
    dist = ALL[name]
    mc = coi.coi_monte_carlo(dist, n, 4000, np.random.default_rng(20260705))
    assert mc.se > 0
    assert abs(mc.value - coi.coi_quadrature(dist, n)) < 4 * mc.se


def test_monte_carlo_is_seeded_and_chunked(monkeypatch: pytest.MonkeyPatch):
    dist = coi.Beta(A, B, 2.0, 5.0)
    first = coi.coi_monte_carlo(dist, 7, 500, np.random.default_rng(3))
    assert coi.coi_monte_carlo(dist, 7, 500, np.random.default_rng(3)) == first
    monkeypatch.setattr(coi, "MC_CHUNK", 50)  # 7 rows per chunk: same number of draws, still unbiased
    chunked = coi.coi_monte_carlo(dist, 7, 500, np.random.default_rng(3))
    assert abs(chunked.value - coi.coi_quadrature(dist, 7)) < 4 * chunked.se


def _retained_is_non_increasing(dist: coi.PriceDistribution) -> None:
    curve = coi.erosion_curve(dist, [1, 2, 3, 5, 8, 13, 50, 200, 1000])
    retained = curve["retained"].to_numpy()
    assert retained[0] == pytest.approx(1.0)
    assert (np.diff(retained) <= 1e-12).all()
    assert ((curve["erosion"] >= -1e-12) & (curve["erosion"] <= 1 + 1e-12)).all()


@settings(max_examples=30, deadline=None)
@given(
    lo=st.floats(0, 100),
    width=st.floats(0.5, 200),
    alpha=st.floats(0.3, 6),
    beta=st.floats(0.3, 6),
)
def test_erosion_monotone_for_beta(lo: float, width: float, alpha: float, beta: float):
    _retained_is_non_increasing(coi.Beta(lo, lo + width, alpha, beta))


@settings(max_examples=30, deadline=None)
@given(
    points=st.lists(st.tuples(st.floats(0, 1), st.floats(0.01, 10)), min_size=2, max_size=8),
    atom=st.floats(0.01, 0.9),
)
def test_erosion_monotone_for_grids_with_and_without_atom(points: list[tuple[float, float]], atom: float):
    prices = [A + (B - A) * u for u, _ in points]
    if len(set(prices)) < 2:
        return
    grid = coi.DiscretePrices(A, B, prices, [w for _, w in points])
    _retained_is_non_increasing(grid)
    _retained_is_non_increasing(coi.AtomAtMin(grid, atom))


def test_rate_slopes_follow_the_lower_tail():
    ns = np.unique(np.geomspace(1000, 10000, 9).astype(int))

    def slope(dist: coi.PriceDistribution) -> float:
        return coi.fit_rate_slope(coi.erosion_curve(dist, ns), 1000, 10000)

    assert slope(coi.Uniform(A, B)) == pytest.approx(-1.0, abs=1e-3)
    assert slope(coi.ClippedExponential(A, B, 40.0)) == pytest.approx(-1.0, abs=1e-3)
    assert slope(coi.Beta(A, B, 2.0, 5.0)) == pytest.approx(-0.5, abs=0.01)
    assert slope(coi.Beta(A, B, 3.0, 1.0)) == pytest.approx(-1 / 3, abs=0.01)
    assert slope(coi.DiscretePrices(A, B, [20.0, 50.0], [1, 1])) == pytest.approx(0.0, abs=1e-9)
    # an atom: COI(n) = 0.999^n * 140/(n + 1) underflows past n ~ 7e5 but not here; far steeper than -1
    assert slope(coi.AtomAtMin(coi.Uniform(A, B), 0.001)) < -2.0
    assert predicted_slopes() == [-1.0, -0.5, -math.inf, 0.0]


def test_rate_fit_skips_underflow_and_needs_two_points():
    curve = coi.erosion_curve(coi.AtomAtMin(coi.Uniform(A, B), 0.1), [10, 100, 2000, 10000])
    assert curve["coi"].iloc[-1] == 0.0  # 0.9^10000 underflows
    ns = np.array([10, 100, 2000])
    by_hand = np.polyfit(np.log(ns), ns * np.log(0.9) + np.log(140 / (ns + 1)), 1)[0]
    assert coi.fit_rate_slope(curve, 10, 10000) == pytest.approx(by_hand, rel=1e-9)
    with pytest.raises(ValueError, match="at least two rows"):
        coi.fit_rate_slope(curve, 1000, 10000)


def predicted_slopes() -> list[float]:
    return [
        coi.predicted_slope(coi.Uniform(A, B)),
        coi.predicted_slope(coi.Beta(A, B, 2.0, 5.0)),
        coi.predicted_slope(coi.DiscretePrices(A, B, [A, 50.0], [1, 1])),
        coi.predicted_slope(coi.DiscretePrices(A, B, [20.0, 50.0], [1, 1])),
    ]


def test_asymptotic_law():
    # k = 1: COI(n) ~ 1/(n f(p_min)); Beta(2, 5): F(x) ~ x^2 / (2 B(2, 5) L^2), so COI ~ Gamma(3/2) (C n)^(-1/2)
    n = 5000
    assert coi.asymptotic_coi(coi.Uniform(A, B), n) == pytest.approx(140 / n)
    assert coi.asymptotic_coi(coi.ClippedExponential(A, B, 40.0), n) == pytest.approx(40 / n)
    for dist in (coi.Beta(A, B, 2.0, 5.0), coi.Beta(A, B, 1.0, 3.0), coi.Beta(A, B, 0.5, 2.0)):
        assert coi.coi_n(dist, n) / coi.asymptotic_coi(dist, n) == pytest.approx(1.0, abs=0.01)
    assert coi.asymptotic_coi(coi.AtomAtMin(coi.Uniform(A, B), 0.1), n) is None


def test_collusive_variant_multiplies_n():
    assert coi.collusive_coi(coi.Uniform(A, B), 2, 3) == pytest.approx(20.0)
    with pytest.raises(ValueError, match=r"k \(number of searching agents\)"):
        coi.collusive_coi(coi.Uniform(A, B), 2, 0)


def test_surge_heuristic_distribution_reuses_the_event_rule():
    # base 100, demand [10, 5, 1, 9] with thresholds (2, 8): quotes 120, 100, 90, 120
    dist = coi.surge_discount_distribution(100.0, [10, 5, 1, 9], rho_low=2, rho_high=8, p_min=50, p_max=150)
    np.testing.assert_allclose(dist.prices, [90.0, 100.0, 120.0])
    np.testing.assert_allclose(dist.weights, [0.25, 0.25, 0.5])
    assert coi.coi_level(dist) == pytest.approx(107.5 - 50)
    assert coi.coi_n(dist, 10**4) == pytest.approx(40.0)  # the floor of agent search is the discount price
    with pytest.raises(ValueError, match="expected prices inside the bounds"):
        coi.surge_discount_distribution(140.0, [10, 5], rho_low=2, rho_high=8, p_min=50, p_max=150)


def test_coi_level_of_a_sample():
    assert coi.coi_level([20.0, 30.0, 40.0], p_min=10.0) == pytest.approx(20.0)
    with pytest.raises(ValueError, match=r"must not go below p_min"):
        coi.coi_level([5.0, 30.0], p_min=10.0)
    with pytest.raises(ValueError, match=r"p_min \(minimum viable price\) is required"):
        coi.coi_level([20.0])


def test_coi_leak():
    np.testing.assert_allclose(coi.coi_leak([0.0, 0.25, 1.0], info_value=2.0), [0.0, 0.5, 2.0])
    assert coi.coi_leak(0.3) == pytest.approx(0.3)
    with pytest.raises(ValueError, match=r"f \(agent probability\) must lie in \[0, 1\]"):
        coi.coi_leak(1.5)
    with pytest.raises(ValueError, match=r"info_value"):
        coi.coi_leak(0.5, info_value=-1.0)


def test_agreement_table_marks_degenerate_monte_carlo():
    dists = {
        "uniform": coi.Uniform(A, B),
        "beta(2, 5)": coi.Beta(A, B, 2.0, 5.0),
        "grid at floor": coi.DiscretePrices(A, B, [A, 20.0], [0.5, 0.5]),
    }
    table = coi.agreement_table(dists, [1, 200], 300, np.random.default_rng(0))
    assert len(table) == 6
    assert table.loc[table.distribution == "uniform", "err_closed"].max() < 1e-12
    assert table.loc[table.distribution == "beta(2, 5)", "closed_form"].isna().all()
    degenerate = table[(table.distribution == "grid at floor") & (table.n == 200)].iloc[0]
    assert degenerate.mc_se == 0 and math.isnan(degenerate.z)
    # every market at the same rung above the floor: no rounding noise passed off as a standard error
    rung = coi.coi_monte_carlo(
        coi.DiscretePrices(A, B, [14.99, 100.0], [0.999, 0.001]), 50, 2000, np.random.default_rng(0)
    )
    assert rung == (pytest.approx(4.99), 0.0)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_n_below_one_or_not_an_integer_raises(bad):
    with pytest.raises(ValueError, match=r"n \(number of searching agents\) must be an integer >= 1"):
        coi.coi_quadrature(coi.Uniform(A, B), bad)
    with pytest.raises(ValueError, match=r"n \(number of searching agents\)"):
        coi.coi_n(coi.Uniform(A, B), bad)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: coi.Uniform(150.0, 10.0), r"Uniform.p_max = 10.0: expected above p_min \(150.0\): swap them"),
        (lambda: coi.Uniform(10.0, 10.0), r"Uniform.p_max = 10.0: expected above p_min \(10.0\)"),
        (lambda: coi.Beta(math.nan, 10.0, 1, 1), r"Beta.p_min = nan: expected a finite number"),
        (lambda: coi.Beta(A, B, 0.0, 1.0), r"Beta.alpha = 0.0: expected a finite number > 0"),
        (lambda: coi.Beta(A, B, 1.0, -2.0), r"Beta.beta = -2.0"),
        (lambda: coi.ClippedExponential(A, B, 0.0), r"scale"),
        (lambda: coi.DiscretePrices(A, B, [5.0, 20.0], [1, 1]), r"expected prices inside the bounds \[p_min, p_max\]"),
        (lambda: coi.DiscretePrices(A, B, [20.0, 160.0], [1, 1]), r"widen the bounds or clip the prices"),
        (
            lambda: coi.DiscretePrices(A, B, [20.0, 30.0], [1, -1]),
            r"DiscretePrices.weights = \[1, -1\]: expected non-negative weights",
        ),
        (lambda: coi.DiscretePrices(A, B, [20.0, 30.0], [1]), r"shaped like weights"),
        (
            lambda: coi.AtomAtMin(coi.Uniform(A, B), 1.0),
            r"AtomAtMin.weight = 1.0: expected a finite number in \(0, 1\)",
        ),
        (lambda: coi.coi_monte_carlo(coi.Uniform(A, B), 2, 1, np.random.default_rng(0)), r"n_draws"),
    ],
)
def test_bad_inputs_raise_clear_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_observed_erosion_by_hand():
    prices = pd.DataFrame(
        {
            "store": ["s", "s", "s", "s", "t"],
            "product": ["x", "x", "x", "y", "z"],
            "price": [10.0, 10.0, 12.0, 7.0, 30.0],
        }
    )
    table = coi.observed_erosion(prices, [1, 2, 5])
    x = table[table["product"] == "x"].set_index("n")
    # quotes {10: 2/3, 12: 1/3}; p_min at the lowest quote: COI(n) = 2 * (1/3)^n
    assert x["quotes"].iloc[0] == 3 and x["distinct"].iloc[0] == 2
    assert x["lowest"].iloc[0] == 10.0 and x["mean"].iloc[0] == pytest.approx(32 / 3)
    for n in (1, 2, 5):
        assert x.loc[n, "coi"] == pytest.approx(2 * (1 / 3) ** n, rel=1e-12)
        assert x.loc[n, "retained"] == pytest.approx((1 / 3) ** (n - 1), rel=1e-12)
    assert x.loc[1, "level"] == pytest.approx(2 / 3) and x.loc[1, "level_share"] == pytest.approx((2 / 3) / (32 / 3))
    single = table[table["product"].isin(["y", "z"])]
    assert (single["coi"] == 0).all() and (single["level"] == 0).all() and single["retained"].isna().all()
    assert list(table.columns[:2]) == ["store", "product"] and len(table) == 9


def test_observed_erosion_matches_monte_carlo_of_the_logged_quotes():
    rng = np.random.default_rng(11)
    quotes = rng.choice([90.0, 100.0, 120.0], size=400, p=[0.2, 0.5, 0.3])
    row = coi.observed_erosion(pd.DataFrame({"store": "s", "product": "p", "price": quotes}), [3]).iloc[0]
    lowest_of_three = rng.choice(quotes, size=(200_000, 3)).min(axis=1) - quotes.min()
    se = lowest_of_three.std(ddof=1) / math.sqrt(lowest_of_three.size)
    assert abs(row["coi"] - lowest_of_three.mean()) < 4 * se


def test_observed_erosion_names_missing_columns():
    with pytest.raises(KeyError, match="price_logs"):
        coi.observed_erosion(pd.DataFrame({"product": ["x"], "price": [1.0]}), [1])
