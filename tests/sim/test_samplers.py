"""The three market backends compute one model.

Statistical checks run at fixed seeds; each compares two samples with a two-sample test and
passes when its p-value exceeds ALPHA = 1e-3 (the false-alarm rate per check if the model
holds). Power checks show the same tests reject samples that do differ.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _checks import ALPHA, chi2_same, differing, sampler_draws
from _simulator_cases import behaviour

from phantom_lib.behaviour.kernels import sample_paths
from phantom_lib.behaviour.kl import agent_probability, path_gaps
from phantom_lib.sim.market import PROXIES, MarketConfig
from phantom_lib.sim.samplers import BACKENDS, make_sampler
from phantom_lib.sim.samplers import jax as jax_backend
from phantom_lib.sim.samplers.numpy import NumpySampler, walk

CONDITION = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
PRICES = np.array([40.0, 55.0, 70.0])
ALPHAS = np.array([0.2, 0.6])


@pytest.fixture(scope="module")
def beh():
    return behaviour()


def expanded_paths(beh, y, n, rng, max_len=12):
    """Sessions of class y on the explicit (E*N) x (E*N) expanded chain via kernels.sample_paths.

    Returns (events, products) padded with -1, like the factorised samplers'."""
    s, n_products = beh.n_states, CONDITION.shape[1]
    c = CONDITION[y]
    expanded = np.kron(beh.matrices[y], np.outer(c, c))
    expanded /= expanded.sum(axis=1, keepdims=True)
    pi0 = np.kron(beh.pi0[y], c)
    states = np.arange(s * n_products)
    ends = states[(states // n_products == beh.end) | np.isin(states // n_products, beh.stop)]
    paths = sample_paths(expanded, pi0, n, rng, max_len=max_len, stop=ends)
    events = np.where(paths >= 0, paths // n_products, -1)
    products = np.where(paths >= 0, paths % n_products, -1)
    events = np.where(events == beh.end, -1, events)  # the move to session_end is not a recorded state
    return events, np.where(events >= 0, products, -1)


def factorised_paths(beh, y, n, seed, max_len=12):
    classes = np.full(n, y)
    sampler = NumpySampler(beh, MarketConfig(n_products=3, max_len=max_len))
    events, products = sampler.sessions(classes, CONDITION, np.random.default_rng(seed))
    events, products = np.asarray(events).T, np.asarray(products).T
    return events, np.where(events >= 0, products, -1)


def summaries(events, products, n_products=3):
    """Recorded (event, product) states, lengths, and product-to-product moves as labels."""
    alive = events >= 0
    joint = (events * n_products + products)[alive]
    lengths = alive.sum(axis=1)
    pairs = alive[:, :-1] & alive[:, 1:]
    moves = (products[:, :-1] * n_products + products[:, 1:])[pairs]
    return joint, lengths, moves


@pytest.mark.parametrize("y", [0, 1])
def test_factorised_sampler_matches_the_expanded_chain(beh, y):
    """The per-session walk (event path, one product per state from c) against the explicit
    (E*N) x (E*N) expanded chain; the sufficient statistics rest on this factorisation."""
    n = 6000
    expanded = summaries(*expanded_paths(beh, y, n, np.random.default_rng(10 + y)))
    factorised = summaries(*factorised_paths(beh, y, n, seed=20 + y))
    for name, a, b in zip(("states", "lengths", "product moves"), expanded, factorised):
        assert chi2_same(a, b) > ALPHA, name
    # power: the other class's demand condition is told apart
    other = summaries(*factorised_paths(beh, 1 - y, n, seed=30))
    assert chi2_same(expanded[0], other[0]) < ALPHA


def test_numpy_walk_matches_kernels_sample_paths(beh):
    n = 8000
    sampler = NumpySampler(beh, MarketConfig())
    walked = walk(
        np.zeros(n, dtype=np.int64), np.random.default_rng(1).random((40, n)), sampler._cdf, sampler._cdf0, beh.end
    ).T
    reference = sample_paths(beh.human.matrix, beh.human.pi0, n, np.random.default_rng(2), 40, beh.end, beh.stop)
    for a, b in ((walked[walked >= 0], reference[reference >= 0]), ((walked >= 0).sum(1), (reference >= 0).sum(1))):
        assert chi2_same(a, b) > ALPHA


def test_jax_walk_equals_numpy_walk_on_the_same_uniforms(beh):
    arrays = jax_backend.market_arrays(beh, MarketConfig())
    classes = np.tile([0, 1], 500)
    uniforms = jax.random.uniform(jax.random.key(0), (40, classes.size))
    paths = jax.jit(jax_backend.walk, static_argnums=3)(jnp.asarray(classes), uniforms, arrays, beh.end)
    s = beh.n_states
    cdf = np.asarray(arrays.cdf, dtype=float).reshape(2, s, s)  # the same float32 CDF values
    expected = walk(classes, np.asarray(uniforms, dtype=float), cdf, np.asarray(arrays.cdf0, dtype=float), beh.end)
    np.testing.assert_array_equal(np.asarray(paths), expected)


def test_jax_agent_probability_equals_the_numpy_one(beh):
    sampler = NumpySampler(beh, MarketConfig())
    classes = np.repeat([0, 1, 0], 40)
    paths, _ = sampler.sessions(classes, CONDITION, np.random.default_rng(4))
    expected = agent_probability(path_gaps(paths.T, beh.human_centroid, beh.agent_centroid), 1.5)
    arrays = jax_backend.market_arrays(beh, MarketConfig(temperature=1.5))
    f, scored = jax.jit(jax_backend.path_agent_probability)(jnp.asarray(paths), arrays)
    np.testing.assert_array_equal(np.asarray(scored), np.isfinite(expected))
    np.testing.assert_allclose(np.asarray(f), np.where(np.isfinite(expected), expected, 0.0), rtol=2e-5, atol=1e-6)
    assert expected[40:80][np.isfinite(expected[40:80])].mean() > expected[:40][np.isfinite(expected[:40])].mean()
    none = np.full((40, 5), -1)
    assert not np.asarray(jax.jit(jax_backend.path_agent_probability)(jnp.asarray(none), arrays)[1]).any()


def draws(sampler, n, seed, alphas=ALPHAS):
    return sampler_draws(sampler, PRICES, alphas, n, seed)


SIZES = {"reference": 300, "numpy": 2000, "jax": 2000}
"""Market draws per backend in the distribution tests (the reference is slow)."""


@pytest.fixture(scope="module", params=PROXIES)
def backend_draws(request, beh):
    config = MarketConfig(n_products=3, n_sessions=10, proxy=request.param)
    return {b: draws(make_sampler(b, beh, config), SIZES[b], seed=i) for i, b in enumerate(BACKENDS)}


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_backends_give_the_references_distributions_of_q_f_and_reward(backend_draws, backend):
    """Sufficient statistics (numpy, jax) against the reference's per-state walk, both proxies."""
    assert differing(backend_draws["reference"], backend_draws[backend]) == []


def test_the_equivalence_test_can_fail(backend_draws, beh):
    """Power: the same checks at the same sizes tell apart a market whose shares are 0.2 lower
    (two of ten agent sessions are human ones)."""
    proxy = "mass" if backend_draws["numpy"][0].sum(axis=2).max() < 99 else "share"
    shifted = draws(
        make_sampler("numpy", beh, MarketConfig(n_products=3, n_sessions=10, proxy=proxy)),
        SIZES["numpy"],
        9,
        alphas=ALPHAS - 0.2,
    )
    assert len(differing(backend_draws["reference"], shifted)) >= 2


def test_sampler_checks_prices_and_backend_names(beh):
    sampler = make_sampler("numpy", beh, MarketConfig(n_products=3))
    with pytest.raises(ValueError, match=r"prices must have shape \(3,\)"):
        sampler.sample(np.ones(4), [0.3], np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown backend 'torch'"):
        make_sampler("torch", beh, MarketConfig())
