"""The filtering defence (``MarketConfig.filter_tpr`` / ``filter_fpr``, Model reference, section 12).

A detector flags each visiting agent session with probability tpr and each human one with fpr;
flagged sessions leave q, while every visitor still buys and counts in f. Checked on the
deterministic market of ``_checks`` (humans put mass 3 per session and never buy, agents mass 9
and always buy), where the proxy's total mass is M sum(q) = 3 K_H + 9 K_A with the kept counts
K_H ~ Binomial(n_H, 1 - fpr) and K_A ~ Binomial(n_A, 1 - tpr) independent: an exact law, tested by
a chi-square goodness of fit (p > ALPHA = 1e-3) in the jax and reference backends, and the two
backends against each other with and without the filter. Power: at the same sample sizes the
same test rejects the law with tpr and fpr swapped (asserted). Rates 0 equal no filter bit for
bit in the jax backend (the engine's).
"""

import dataclasses

import numpy as np
import pytest
from _checks import (
    AGENT_MASS,
    ALPHA,
    HUMAN_MASS,
    deterministic_behaviour,
    same_distribution,
)
from _simulator_cases import behaviour
from scipy import stats

from phantom_lib.sim import jax_env
from phantom_lib.sim.config import EnvConfig
from phantom_lib.sim.market import MarketConfig
from phantom_lib.sim.samplers import make_sampler
from phantom_lib.sim.samplers.numpy import NumpySampler

M, ALPHA0 = 10, 0.5
N_H, N_A = 5, 5
TPR, FPR = 0.8, 0.3
PRICES = np.array([60.0, 45.0, 52.0])
FILTERED = MarketConfig(n_products=3, n_sessions=M, proxy="mass", filter_tpr=TPR, filter_fpr=FPR)
DRAWS = {"reference": 600, "jax": 3000}


def mass_law(tpr: float, fpr: float) -> dict[int, float]:
    """P(3 K_H + 9 K_A = m) for the kept counts' binomial laws (exact, by convolution)."""
    law: dict[int, float] = {}
    for h in range(N_H + 1):
        for a in range(N_A + 1):
            m = int(HUMAN_MASS * h + AGENT_MASS * a)
            law[m] = law.get(m, 0.0) + stats.binom.pmf(h, N_H, 1 - fpr) * stats.binom.pmf(a, N_A, 1 - tpr)
    return law


def fit_pvalue(masses: np.ndarray, law: dict[int, float]) -> float:
    """Chi-square goodness of fit of observed total masses to ``law`` (cells of expected count < 5 pooled)."""
    values = np.array(sorted(law))
    expected = np.array([law[v] for v in values]) * masses.size
    observed = np.array([np.sum(masses == v) for v in values])
    assert observed.sum() == masses.size, "a mass outside the law's support"
    big = expected >= 5
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    keep = exp > 0
    return float(stats.chisquare(obs[keep], exp[keep] * obs.sum() / exp[keep].sum()).pvalue)


def draws(backend: str, config: MarketConfig, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    sampler = make_sampler(backend, deterministic_behaviour(), config)
    rng = np.random.default_rng(seed)
    samples = [sampler.sample(PRICES, [ALPHA0], rng) for _ in range(n)]
    return {"mass": np.round(np.array([s.q[0].sum() * M for s in samples])).astype(int),
            "sales": np.array([s.sales[0].sum() for s in samples]), "f": np.array([s.f[0] for s in samples])}


@pytest.fixture(scope="module")
def filtered():
    return {name: draws(name, FILTERED, n) for name, n in DRAWS.items()}


@pytest.mark.parametrize("backend", list(DRAWS))
def test_kept_mass_follows_the_binomial_law_and_every_visitor_still_buys(filtered, backend):
    got = filtered[backend]
    assert fit_pvalue(got["mass"], mass_law(TPR, FPR)) > ALPHA
    assert fit_pvalue(got["mass"], mass_law(FPR, TPR)) < ALPHA  # power: the swapped rates are rejected
    assert np.all(got["sales"] == N_A)  # agents always reach checkout and buy, flagged or not
    unfiltered = draws(backend, dataclasses.replace(FILTERED, filter_tpr=None, filter_fpr=None), 50)
    assert np.allclose(got["f"], unfiltered["f"][0])  # f counts every visitor (deterministic paths: one value)


def test_jax_and_reference_draw_the_same_proxy_mass_with_and_without_the_filter(filtered):
    assert same_distribution(filtered["jax"]["mass"], filtered["reference"]["mass"])
    plain = MarketConfig(n_products=3, n_sessions=M, proxy="mass")
    jax_plain, ref_plain = draws("jax", plain, DRAWS["jax"]), draws("reference", plain, DRAWS["reference"])
    assert same_distribution(jax_plain["mass"], ref_plain["mass"])
    assert not same_distribution(filtered["jax"]["mass"], jax_plain["mass"])  # power: the filter is seen


def test_rates_zero_equal_no_filter_bit_for_bit_in_jax():
    beh = behaviour()
    base = MarketConfig(n_products=4, n_sessions=30, proxy="mass", visits="price_responsive")
    zero = dataclasses.replace(base, filter_tpr=0.0, filter_fpr=0.0)
    prices = np.array([40.0, 55.0, 30.0, 70.0])
    a, b = (make_sampler("jax", beh, c) for c in (base, zero))
    for seed in range(5):
        x, y = (
            a.sample(prices, [0.2, 0.6], np.random.default_rng(seed)),
            b.sample(prices, [0.2, 0.6], np.random.default_rng(seed)),
        )
        for name in ("q", "f", "sales", "n_states"):
            assert np.array_equal(getattr(x, name), getattr(y, name)), name
    env, _ = jax_env.make(EnvConfig(market=zero), beh)
    assert env.filter_keep == (1.0, 1.0)


def test_filter_rates_are_checked_and_numpy_names_the_backends():
    with pytest.raises(ValueError, match=r"MarketConfig.filter_fpr = None: expected set together with filter_tpr"):
        MarketConfig(filter_tpr=0.5)
    with pytest.raises(ValueError, match=r"MarketConfig.filter_tpr = 1.5: expected"):
        MarketConfig(filter_tpr=1.5, filter_fpr=0.1)
    assert MarketConfig().filter_keep is None and FILTERED.filter_keep == (1 - FPR, 1 - TPR)
    message = r"filter_tpr = 0.8: the filtering defence runs on the 'jax' and 'reference' backends"
    with pytest.raises(ValueError, match=message):
        NumpySampler(deterministic_behaviour(), FILTERED)
